import { z } from 'zod';
import { evaluationCheckpointSchema, evaluationDatasetSchema, pcdiffEvaluationSpecSchema } from './evaluation-spec.schema';

/**
 * A training job's request to evaluate its own checkpoints as they are committed: every
 * `everyCheckpoints`-th committed checkpoint is evaluated on `dataset` (a named subset: a split,
 * or listed cases), paired with `partner` — the other network of the implant pipeline (the
 * voxelization checkpoint for a `pcdiff` job, the diffusion checkpoint for a `voxelization` job).
 * The means over the cases are attached to the checkpoint as `eval.DSC`, `eval.bDSC` and
 * `eval.HD95`, so `checkpoint.keepBest: { metric: 'eval.HD95', mode: 'min' }` keeps the best one
 * and `best:eval.HD95:min` resolves it. The other fields are those of an evaluation spec.
 */
export const autoEvaluationSchema = z
  .object({
    everyCheckpoints: z.number().int().min(1).max(100_000).default(1),
    partner: evaluationCheckpointSchema,
    dataset: evaluationDatasetSchema,
    ...pcdiffEvaluationSpecSchema.pick({
      sampler: true,
      ensembleSize: true,
      shards: true,
      device: true,
      postprocess: true,
      weights: true,
      seed: true,
      caseTimeoutSeconds: true,
      maxShardRestarts: true,
      priority: true,
    }).shape,
  })
  .strict();
export type AutoEvaluation = z.infer<typeof autoEvaluationSchema>;

/** Names under which an evaluation's means are attached to the evaluated checkpoint. */
export const AUTO_EVALUATION_METRIC_PREFIX = 'eval.';
