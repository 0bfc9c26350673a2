import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, timestampSchema } from './common.schema';
import { checkpointFileSchema } from './checkpoint-manifest.schema';
import { checkpointMetaSchema } from './checkpoint-meta.schema';
import { checkpointIdSchema } from './checkpoint-ref.schema';

/**
 * What auto-evaluation says of a checkpoint: `awaiting` (committed by a job whose retention keeps
 * the best by an `eval.` metric: kept until a verdict), `skipped` (not one of the every-N-th),
 * `running`, `succeeded` (with the means as `eval.<metric>`), `failed`.
 */
export const checkpointEvaluationSchema = z
  .object({
    state: z.enum(['awaiting', 'skipped', 'running', 'succeeded', 'failed']),
    evaluationId: identifierSchema.optional(),
    metrics: z.record(z.string().min(1).max(128), z.number()).default({}),
    reason: z.string().max(2000).optional(),
    at: timestampSchema,
  })
  .strict();
export type CheckpointEvaluation = z.infer<typeof checkpointEvaluationSchema>;

/** A committed, verified checkpoint in the registry. Only committed checkpoints are ever visible. */
export const checkpointRecordSchema = z
  .object({
    id: checkpointIdSchema,
    jobId: identifierSchema,
    /** Its job's owner, recorded at commit. */
    owner: userNameSchema.optional(),
    attempt: z.number().int().min(1),
    step: z.number().int().min(0),
    epoch: z.number().min(0).optional(),
    committedAt: timestampSchema,
    /** Bytes over all files. */
    totalSize: z.number().int().min(0),
    files: z.array(checkpointFileSchema).min(1),
    meta: checkpointMetaSchema,
    /** Auto-evaluation of this checkpoint, when its job asks for one or keeps the best by an `eval.` metric. */
    evaluation: checkpointEvaluationSchema.optional(),
  })
  .strict()
  .meta({ id: 'CheckpointRecord' });
export type CheckpointRecord = z.infer<typeof checkpointRecordSchema>;
