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

/** The spec fields every evaluation family shares: shards, device, queue timing, priority. */
const runShape = {
  name: z.string().min(1).max(128).optional(),
  /** Shard jobs (one GPU each, or one CPU process each); each pulls cases until the queue is empty. */
  shards: z.number().int().min(1).max(256).default(1),
  device: z.enum(['gpu', 'cpu']).default('gpu'),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  /** A case whose shard stops reporting for this long goes back to the queue for another shard. */
  caseTimeoutSeconds: z.number().int().min(2).max(24 * 3600).default(300),
  /** Restarts of each shard job on failure (its unfinished case is redelivered anyway). */
  maxShardRestarts: z.number().int().min(0).max(20).default(1),
  priority: z.number().int().min(-100).max(100).default(0),
};

/** The fields of each family, named in the refusal of a field that belongs to another family. */
function strictFamily<T extends z.core.$ZodLooseShape>(kind: string, shape: T) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.map((k) => `"${k}"`).join(', ')} ${issue.keys.length > 1 ? 'are' : 'is'} not an option of a ${kind} evaluation; its fields are ${Object.keys(shape).join(', ')}`
        : undefined,
  });
}

/**
 * A PCDiff evaluation (`kind` may be left out): a diffusion + voxelization checkpoint pair on a
 * SkullBreak split, implants sampled, voted and post-processed, scored by DSC/bDSC/HD95/CD.
 */
export const pcdiffEvaluationSpecSchema = strictFamily('pcdiff', {
  kind: z.literal('pcdiff').default('pcdiff'),
  ...runShape,
  checkpoints: z.object({ diffusion: evaluationCheckpointSchema, voxelization: evaluationCheckpointSchema }).strict(),
  dataset: evaluationDatasetSchema,
  sampler: evaluationSamplerSchema.default({ method: 'ddim', steps: 50, eta: 0, clipX0: 3 }),
  /** Implants sampled per case and voted voxel-wise. */
  ensembleSize: z.number().int().min(1).max(64).default(5),
  postprocess: evaluationPostprocessSchema.prefault({}),
  /** Diffusion weights: the EMA shadow when the checkpoint has one, or the raw model. */
  weights: z.enum(['ema', 'raw']).default('ema'),
}).meta({ id: 'PcdiffEvaluationSpec' });
export type PcdiffEvaluationSpec = z.infer<typeof pcdiffEvaluationSpecSchema>;

const triple = z.tuple([z.number().int().min(1).max(4096), z.number().int().min(1).max(4096), z.number().int().min(1).max(4096)]);

/**
 * A prepared volume dataset (`python -m hounsfield.data.volumes.prepare ROOT OUT`): `root` is OUT,
 * the directory holding `manifest.json`; the cases are the volumes of `split`, optionally narrowed
 * to `cases` and cut to the first `maxCases` in case-id order.
 */
export const preparedVolumesDatasetSchema = z
  .object({
    /** The prepared directory (holds manifest.json), relative to one of the worker's data roots or absolute inside one. */
    root: relativePath,
    split: z.enum(['train', 'val', 'test']).default('test'),
    cases: z.array(identifierSchema).min(1).max(10_000).optional(),
    maxCases: z.number().int().min(1).max(100_000).optional(),
  })
  .strict()
  .meta({ id: 'PreparedVolumesDataset' });

/**
 * A VQGAN-3D reconstruction evaluation: each volume of a prepared split reconstructed whole through
 * the overlap blending and scored by PSNR, SSIM, codebook perplexity and usage. Unset options take
 * the checkpoint's trainer config (`volumes.patch`, `volumes.stride`, `volumes.blend`); the data
 * range is the span of the config's `volumes.outputRange`. The report states the values that ran.
 */
export const vqgan3dEvaluationSpecSchema = strictFamily('vqgan3d', {
  kind: z.literal('vqgan3d'),
  ...runShape,
  checkpoints: z.object({ model: evaluationCheckpointSchema }).strict(),
  dataset: preparedVolumesDatasetSchema,
  patch: triple.optional(),
  stride: triple.optional(),
  blend: z.enum(['gaussian', 'constant', 'tent']).optional(),
  /** Patches reconstructed in one batch (memory bound); default from the config. */
  patchesInFlight: z.number().int().min(1).max(4096).optional(),
}).meta({ id: 'Vqgan3dEvaluationSpec' });
export type Vqgan3dEvaluationSpec = z.infer<typeof vqgan3dEvaluationSpecSchema>;

/**
 * A topo_unet dataset (`images/` and `labels/` with one volume per case id, labels 0 background,
 * 1 surface, 2 unlabelled): `split` `validation` is the last `data.validationCases` ids in sorted
 * order, as the training held them out (from the checkpoint's trainer config), `all` every case.
 */
export const topoUnetDatasetSchema = z
  .object({
    /** The directory holding images/ and labels/, relative to one of the worker's data roots or absolute inside one. */
    root: relativePath,
    split: z.enum(['validation', 'all']).default('validation'),
    cases: z.array(identifierSchema).min(1).max(10_000).optional(),
    maxCases: z.number().int().min(1).max(100_000).optional(),
    /** Voxel spacing (mm) for TIFF volumes, which carry none. */
    tiffSpacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
  })
  .strict()
  .meta({ id: 'TopoUnetDataset' });

/**
 * A topo_unet segmentation evaluation: each case predicted whole (Gaussian-blended windows),
 * thresholded, small components removed, and scored by Dice, clDice, surface Dice at
 * `surfaceToleranceMm`, VOI and Betti errors (label 2 ignored). Unset threshold and minimum
 * component size take the checkpoint's inference settings.
 */
export const topoUnetEvaluationSpecSchema = strictFamily('topo_unet', {
  kind: z.literal('topo_unet'),
  ...runShape,
  checkpoints: z.object({ model: evaluationCheckpointSchema }).strict(),
  dataset: topoUnetDatasetSchema,
  threshold: z.number().gt(0).lt(1).optional(),
  minComponentVoxels: z.number().int().min(0).max(1_000_000_000).optional(),
  surfaceToleranceMm: z.number().positive().max(1000).default(2),
}).meta({ id: 'TopoUnetEvaluationSpec' });
export type TopoUnetEvaluationSpec = z.infer<typeof topoUnetEvaluationSpecSchema>;

/**
 * A slice-interpolation evaluation: each volume of a prepared split is thinned to the checkpoint's
 * thick geometry (slab average or subsample, as trained), interpolated back by the model (DDIM,
 * `ddimSteps`) and, as the baseline, trilinearly; both are scored against the thin ground truth
 * by PSNR and 3-D SSIM (`psnr`, `ssim`, `psnr_trilinear`, `ssim_trilinear`). The VAE weights
 * default to the file the checkpoint's trainer config names; their sha256 must be the one the
 * checkpoint recorded. Unset `ddimSteps` takes the config's validation step count.
 */
export const sliceInterpEvaluationSpecSchema = strictFamily('slice_interp', {
  kind: z.literal('slice_interp'),
  ...runShape,
  checkpoints: z.object({ model: evaluationCheckpointSchema }).strict(),
  dataset: preparedVolumesDatasetSchema,
  /** The frozen MAISI VAE's weights file (absolute inside a worker data root, or relative to `dataset.root`); default: the trainer config's. */
  vaeWeights: relativePath.optional(),
  /** DDIM steps per sample; default: the trainer config's validation steps. */
  ddimSteps: z.number().int().min(1).max(1000).optional(),
}).meta({ id: 'SliceInterpEvaluationSpec' });
export type SliceInterpEvaluationSpec = z.infer<typeof sliceInterpEvaluationSpecSchema>;

/**
 * `POST /v1/evaluations`: what to evaluate, on which cases, how, and on how many shards. The
 * family is `kind` (a spec without one is a PCDiff evaluation); each family has its own
 * checkpoints, dataset and options.
 */
export const evaluationSpecSchema = z
  .discriminatedUnion('kind', [pcdiffEvaluationSpecSchema, vqgan3dEvaluationSpecSchema, topoUnetEvaluationSpecSchema, sliceInterpEvaluationSpecSchema])
  .meta({ id: 'EvaluationSpec' });
export type EvaluationSpecInput = z.input<typeof evaluationSpecSchema>;
export type EvaluationSpec = z.infer<typeof evaluationSpecSchema>;
export type EvaluationKind = EvaluationSpec['kind'];

/** The training job kind each checkpoint role of each evaluation family must come from. */
export const EVALUATION_MODEL_KINDS: Record<EvaluationKind, Record<string, string>> = {
  pcdiff: { diffusion: 'pcdiff', voxelization: 'voxelization' },
  vqgan3d: { model: 'vqgan3d' },
  topo_unet: { model: 'topo_unet' },
  slice_interp: { model: 'slice_interp' },
};

/** The checkpoint roles of a spec with what it asks for (`diffusion`, `voxelization` or `model`). */
export function evaluationCheckpoints(spec: EvaluationSpec): [string, EvaluationCheckpoint][] {
  return Object.entries(spec.checkpoints);
}

/** A spec's validation issues as field paths (a field of another family is named by its own path). */
export function evaluationSpecIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join('.'), message: issue.message }))
      : [{ path: issue.path.join('.') || '(root)', message: issue.message }],
  );
}
