import { z } from 'zod';

/** RFC 9457 problem details, as every error of the HTTP API is answered (`application/problem+json`). */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    instance: z.string().optional(),
    /** For validation problems: each failing field's path and what is wrong with it. */
    errors: z.array(z.object({ path: z.string(), message: z.string() }).strict()).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });
export type ProblemDetails = z.infer<typeof problemSchema>;
