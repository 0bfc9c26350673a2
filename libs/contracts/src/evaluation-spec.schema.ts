import { z } from 'zod';
import { identifierSchema } from './common.schema';
import { checkpointRefSchema } from './checkpoint-ref.schema';

/** A trained model to evaluate: a job's committed checkpoint and, optionally, its trainer config. */
export const evaluationCheckpointSchema = z
  .object({
    job: identifierSchema,
    /** `latest`, `best:<metric>:<min|max>`, a step number or a checkpoint id; pinned at submission. */
    ref: checkpointRefSchema.default('latest'),
    /**
     * The trainer config the weights were trained with (preset + overrides). Defaults to the
     * training job's `spec.config`, which the service reads from the scheduler at submission.
     */
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type EvaluationCheckpoint = z.infer<typeof evaluationCheckpointSchema>;

const relativePath = z.string().min(1).max(1024);

/**
 * Which cases: the cases of `split` in the split CSV written by `hounsfield.data.prepare` (default
 * `<root>/../split.csv` is not assumed: without `splitCsv` every discovered case of `root` is
 * taken), optionally narrowed to `cases` and cut to the first `maxCases` in case-id order.
 */
export const evaluationDatasetSchema = z
  .object({
    /** Dataset directory (SkullBreak layout), relative to one of the worker's data roots or absolute inside one. */
    root: relativePath,
    splitCsv: relativePath.optional(),
    split: z.enum(['train', 'val', 'test']).default('test'),
    cases: z.array(identifierSchema).min(1).max(10_000).optional(),
    maxCases: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();

/** Diffusion sampling: DDPM (every step) or DDIM with `steps`; `tStart` truncates the schedule. */
export const evaluationSamplerSchema = z
  .object({
    method: z.enum(['ddpm', 'ddim']).default('ddim'),
    steps: z.number().int().min(1).max(10_000).default(50),
    eta: z.number().min(0).max(10).default(0),
    tStart: z.number().int().min(0).max(100_000).optional(),
    /** Clamp the predicted x0 to [-clipX0, clipX0]; 0 disables clipping. */
    clipX0: z.number().min(0).max(1000).default(3),
  })
  .strict()
  .superRefine((sampler, ctx) => {
    if (sampler.method === 'ddpm' && sampler.eta !== 0) {
      ctx.addIssue({ code: 'custom', path: ['eta'], message: 'eta applies to DDIM only' });
    }
  });

/**
 * Post-processing of each voted implant (see `hounsfield.evaluation.PostprocessOptions`, whose
 * defaults these are — a Python test holds them equal); the stored spec, and so every report,
 * carries the options that ran.
 */
export const evaluationPostprocessSchema = z
  .object({
    nearPoints: z.boolean().default(true),
    maxPointDistanceVox: z.number().min(0).max(1000).default(2),
    opening: z.boolean().default(true),
    openingIterations: z.number().int().min(1).max(100).default(1),
    largestComponent: z.boolean().default(true),
    median: z.boolean().default(true),
    medianSize: z.number().int().min(1).max(99).refine((n) => n % 2 === 1, 'an odd size').default(3),
    closing: z.boolean().default(true),
    closingIterations: z.number().int().min(1).max(100).default(1),
    fillHoles: z.boolean().default(true),
  })
  .strict();
export type EvaluationPostprocess = z.infer<typeof evaluationPostprocessSchema>;

/** `POST /v1/evaluations`: what to evaluate, on which cases, how, and on how many shards. */
export const evaluationSpecSchema = z
  .object({
    name: z.string().min(1).max(128).optional(),
    checkpoints: z.object({ diffusion: evaluationCheckpointSchema, voxelization: evaluationCheckpointSchema }).strict(),
    dataset: evaluationDatasetSchema,
    sampler: evaluationSamplerSchema.default({ method: 'ddim', steps: 50, eta: 0, clipX0: 3 }),
    /** Implants sampled per case and voted voxel-wise. */
    ensembleSize: z.number().int().min(1).max(64).default(5),
    /** Shard jobs (one GPU each, or one CPU process each); each pulls cases until the queue is empty. */
    shards: z.number().int().min(1).max(256).default(1),
    device: z.enum(['gpu', 'cpu']).default('gpu'),
    postprocess: evaluationPostprocessSchema.prefault({}),
    /** Diffusion weights: the EMA shadow when the checkpoint has one, or the raw model. */
    weights: z.enum(['ema', 'raw']).default('ema'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    /** A case whose shard stops reporting for this long goes back to the queue for another shard. */
    caseTimeoutSeconds: z.number().int().min(2).max(24 * 3600).default(300),
    /** Restarts of each shard job on failure (its unfinished case is redelivered anyway). */
    maxShardRestarts: z.number().int().min(0).max(20).default(1),
    priority: z.number().int().min(-100).max(100).default(0),
  })
  .strict()
  .meta({ id: 'EvaluationSpec' });
export type EvaluationSpecInput = z.input<typeof evaluationSpecSchema>;
export type EvaluationSpec = z.infer<typeof evaluationSpecSchema>;
