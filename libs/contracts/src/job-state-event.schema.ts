import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { jobStateSchema } from './job-state.schema';

/** The scheduler's record of a job's state change, published after it is stored. */
export const jobStateEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('state'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    state: jobStateSchema,
    /** State before the change; absent for the first `queued`. */
    from: jobStateSchema.optional(),
    at: timestampSchema,
    reason: z.string().max(4096).optional(),
    workerId: identifierSchema.optional(),
  })
  .strict()
  .meta({ id: 'JobStateEvent' });
export type JobStateEvent = z.infer<typeof jobStateEventSchema>;
