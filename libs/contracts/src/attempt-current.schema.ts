import { z } from 'zod';
import { identifierSchema, schemaVersionSchema } from './common.schema';

/**
 * A restarted worker agent asks, for each trainer a previous agent of it left running, whether that
 * attempt is still the job's current one on this worker (`WORKER_RPC.attemptCurrent`). Yes: the
 * agent re-adopts the trainer. No: it stops the trainer before any new attempt starts there.
 */
export const attemptCurrentRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
  })
  .strict()
  .meta({ id: 'AttemptCurrentRequest' });
export type AttemptCurrentRequest = z.infer<typeof attemptCurrentRequestSchema>;

export const attemptCurrentReplySchema = z
  .object({
    current: z.boolean(),
    /** Why not, in words (the job moved on, ended, or is unknown); empty when current. */
    reason: z.string().max(1024),
  })
  .strict()
  .meta({ id: 'AttemptCurrentReply' });
export type AttemptCurrentReply = z.infer<typeof attemptCurrentReplySchema>;
