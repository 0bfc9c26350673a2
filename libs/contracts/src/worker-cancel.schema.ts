import { z } from 'zod';
import { identifierSchema } from './common.schema';

/** Core NATS request to a worker: stop this attempt (SIGTERM, grace, then SIGKILL). */
export const workerCancelRequestSchema = z
  .object({
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    graceSeconds: z.number().min(0).max(3600).optional(),
  })
  .strict()
  .meta({ id: 'WorkerCancelRequest' });
export type WorkerCancelRequest = z.infer<typeof workerCancelRequestSchema>;

/** The worker's answer once SIGTERM is sent (or the attempt had already ended or not yet started). */
export const workerCancelReplySchema = z.union([
  z.object({ ok: z.literal(true), state: z.enum(['stopping', 'finished', 'not_started']) }).strict(),
  z.object({ ok: z.literal(false), error: z.string() }).strict(),
]);
export type WorkerCancelReply = z.infer<typeof workerCancelReplySchema>;
