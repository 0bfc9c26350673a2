import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/**
 * Something about an attempt a person should see that is neither progress nor a state change: a
 * warm start's missing/unexpected keys, a frozen network started from random weights, a refused
 * checkpoint commit. Workers publish them from the trainer's report file; the scheduler keeps the
 * latest on the job record and the job's event stream carries them.
 */
export const jobNoticeEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('notice'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema.optional(),
    /** What kind of notice, e.g. `warm_start`, `frozen_weights`, `checkpoint_refused`. */
    kind: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_]*$/, 'a notice kind such as warm_start'),
    level: z.enum(['info', 'warning']).default('info'),
    message: z.string().min(1).max(4096),
    /** Structured details (for example the missing keys), small and JSON-serialisable. */
    details: z.record(z.string().max(64), z.unknown()).default({}),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'JobNoticeEvent' });
export type JobNoticeEvent = z.infer<typeof jobNoticeEventSchema>;
