import { z } from 'zod';
import { identifierSchema, timestampSchema } from './common.schema';
import { checkpointFileSchema } from './checkpoint-manifest.schema';
import { checkpointMetaSchema } from './checkpoint-meta.schema';
import { checkpointIdSchema } from './checkpoint-ref.schema';

/** A committed, verified checkpoint in the registry. Only committed checkpoints are ever visible. */
export const checkpointRecordSchema = z
  .object({
    id: checkpointIdSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    step: z.number().int().min(0),
    epoch: z.number().min(0).optional(),
    committedAt: timestampSchema,
    /** Bytes over all files. */
    totalSize: z.number().int().min(0),
    files: z.array(checkpointFileSchema).min(1),
    meta: checkpointMetaSchema,
  })
  .strict()
  .meta({ id: 'CheckpointRecord' });
export type CheckpointRecord = z.infer<typeof checkpointRecordSchema>;
