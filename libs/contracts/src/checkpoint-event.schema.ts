import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { checkpointIdSchema } from './checkpoint-ref.schema';
import { metricValueSchema } from './progress-event.schema';

/** Published on `hf.events.checkpoint.<job>` when a checkpoint is committed or removed by retention. */
export const checkpointEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('checkpoint'),
    action: z.enum(['committed', 'deleted']),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    step: z.number().int().min(0),
    checkpointId: checkpointIdSchema,
    totalSize: z.number().int().min(0),
    metrics: z.record(z.string().min(1).max(128), metricValueSchema),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'CheckpointEvent' });
export type CheckpointEvent = z.infer<typeof checkpointEventSchema>;
