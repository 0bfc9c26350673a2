import { z } from 'zod';
import { codeReferenceSchema, jobEnvironmentSchema } from './code.schema';
import { identifierSchema } from './common.schema';
import { autoEvaluationSchema } from './auto-evaluation.schema';
import { monitoringPolicySchema } from './monitoring-policy.schema';

/** The kinds of training the platform knows how to run. `script` runs a user's own module. */
export const jobKindSchema = z.enum(['pcdiff', 'voxelization', 'vqgan3d', 'slice_interp', 'topo_unet', 'script']);
export type JobKind = z.infer<typeof jobKindSchema>;

/** How the learning rate follows the global batch relative to the reference batch. */
export const lrScalingRuleSchema = z.enum(['linear', 'sqrt', 'none']);
export type LrScalingRule = z.infer<typeof lrScalingRuleSchema>;

export const resourcesSchema = z
  .object({
    /**
     * Workers (nodes) the job spans: all are leased at once or none, and torchrun joins them over a
     * c10d rendezvous on node 0's worker. `gpus` and `cpuProcesses` are per node.
     */
    nodes: z.number().int().min(1).max(64).default(1),
    /** Whole GPUs per node, all on one worker (gang allocation). 0 runs on the CPU. */
    gpus: z.number().int().min(0).max(64).default(0),
    /** Processes per node for CPU jobs (gloo DDP); GPU jobs start one process per GPU. */
    cpuProcesses: z.number().int().min(1).max(64).default(1),
    /** GPU model substring, matched case-insensitively against the NVML name (for example "H100"). */
    gpuType: z.string().min(1).max(64).optional(),
    /** Minimum free memory on each assigned GPU, in GiB. */
    minGpuMemoryGiB: z.number().positive().max(1024).optional(),
    /** Wait for a worker that can hold the job instead of refusing it at submission. */
    waitForCapacity: z.boolean().default(false),
  })
  .strict();

export const hyperparametersSchema = z
  .object({
    /** Samples per optimizer step over all processes and accumulation steps. */
    globalBatch: z.number().int().min(1).max(1_000_000),
    /** Batch at which `baseLr` was tuned; defaults to the global batch (no scaling). */
    referenceBatch: z.number().int().min(1).max(1_000_000).optional(),
    baseLr: z.number().positive().max(10),
    lrScaling: lrScalingRuleSchema.default('linear'),
    /** Cap on the per-device batch; above it the platform uses gradient accumulation. */
    maxPerDeviceBatch: z.number().int().min(1).max(100_000).optional(),
    epochs: z.number().int().min(1).max(1_000_000).optional(),
    maxSteps: z.number().int().min(1).max(100_000_000).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  })
  .strict();

export const dataSchema = z
  .object({
    /** Dataset directory, relative to one of the worker's data roots or absolute inside one. */
    root: z.string().min(1).max(1024).optional(),
    /** Further files or directories the job reads (checked by preflight). */
    paths: z.array(z.string().min(1).max(1024)).max(64).default([]),
    split: z.string().min(1).max(1024).optional(),
  })
  .strict();

/**
 * Initial weights for a fresh start (`checkpoint.initFrom`): weights only — no optimiser, step or
 * sample position — from a committed or imported checkpoint. A restart of the job resumes from the
 * job's own latest checkpoint instead.
 */
export const initFromSchema = z
  .object({
    /** `<job>:latest`, `<job>:best:<metric>:<min|max>`, `<job>:<step>` or a checkpoint id (`ck-…`). */
    ref: z.string().min(1).max(256),
    /** Take the checkpoint's raw weights or its EMA weights (when it has them). */
    weights: z.enum(['model', 'ema']).default('model'),
    /**
     * true: every key of the model must be in the checkpoint and nothing else (a mismatch fails the
     * attempt before training); false: load what matches by name and shape, report the rest.
     */
    strict: z.boolean().default(true),
  })
  .strict()
  .meta({ id: 'InitFrom' });

export const checkpointPolicySchema = z
  .object({
    everySteps: z.number().int().min(1).optional(),
    everyEpochs: z.number().int().min(1).optional(),
    keepLast: z.number().int().min(1).max(1000).default(3),
    keepBest: z
      .object({
        metric: z.string().min(1).max(64),
        mode: z.enum(['min', 'max']),
        count: z.number().int().min(1).max(100).default(1),
      })
      .strict()
      .optional(),
    keepEvery: z.number().int().min(1).optional(),
    /** Start from a committed checkpoint: `<job>:latest`, `<job>:best:<metric>:<min|max>` or `<job>:<step>`. */
    resumeFrom: z.string().min(1).max(256).optional(),
    /** Warm start: take initial weights (only) from another checkpoint; see `initFromSchema`. */
    initFrom: initFromSchema.optional(),
  })
  .strict();

export const scriptSchema = z
  .object({
    /** Python module run with `torchrun -m`, for example `my_lab.train`. */
    module: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a dotted Python module name such as my_lab.train'),
    args: z.array(z.string().max(4096)).max(256).default([]),
  })
  .strict();

/** What a researcher submits. The platform resolves everything else (placement, batch, LR). */
export const trainingJobSpecSchema = z
  .object({
    name: z.string().min(1).max(128),
    kind: jobKindSchema,
    resources: resourcesSchema.default({ nodes: 1, gpus: 0, cpuProcesses: 1, waitForCapacity: false }),
    hyperparameters: hyperparametersSchema,
    data: dataSchema.default({ paths: [] }),
    checkpoint: checkpointPolicySchema.default({ keepLast: 3 }),
    /** Training-health alerts: fail-fast on NaN loss, thresholds for spikes and stalls. */
    monitoring: monitoringPolicySchema.default({ failOnNonFiniteLoss: false }),
    /** Higher runs first; ties go to the older job. */
    priority: z.number().int().min(-100).max(100).default(0),
    maxRestarts: z.number().int().min(0).max(20).default(0),
    script: scriptSchema.optional(),
    /** `script` jobs: the uploaded project the module runs from (`hounsfield submit --code DIR`). */
    code: codeReferenceSchema.optional(),
    /** `script` jobs: extra packages, installed into a per-job virtual environment on the worker. */
    environment: jobEnvironmentSchema.optional(),
    /** Evaluate every N-th committed checkpoint (PCDiff jobs); see `autoEvaluationSchema`. */
    evaluation: autoEvaluationSchema.optional(),
    /** Trainer-specific configuration: a preset name and overrides, validated by the trainer. */
    config: z.record(z.string(), z.unknown()).default({}),
    /** Extra environment for the trainer. Platform variables (CUDA_VISIBLE_DEVICES, HOUNSFIELD_*) cannot be set. */
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string().max(4096))
      .default({}),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.kind === 'script' && !spec.script) {
      ctx.addIssue({ code: 'custom', path: ['script'], message: 'a script job needs script.module (the Python module to run)' });
    }
    for (const field of ['code', 'environment'] as const) {
      if (spec[field] && spec.kind !== 'script') {
        ctx.addIssue({ code: 'custom', path: [field], message: `only script jobs run uploaded code in their own environment; remove ${field} or use kind script` });
      }
    }
    if (spec.evaluation && spec.kind !== 'pcdiff' && spec.kind !== 'voxelization') {
      ctx.addIssue({
        code: 'custom',
        path: ['evaluation'],
        message: 'auto-evaluation runs the implant pipeline: only pcdiff and voxelization jobs can ask for it; remove evaluation',
      });
    }
    for (const name of Object.keys(spec.env)) {
      if (name === 'CUDA_VISIBLE_DEVICES' || name.startsWith('HOUNSFIELD_')) {
        ctx.addIssue({ code: 'custom', path: ['env', name], message: 'set by the platform; remove it from env' });
      }
    }
  })
  .meta({ id: 'TrainingJobSpec' });
export type TrainingJobSpecInput = z.input<typeof trainingJobSpecSchema>;
export type TrainingJobSpec = z.infer<typeof trainingJobSpecSchema>;

/**
 * Internal task kinds: jobs the platform submits for itself and the worker runs as built-in tasks.
 * Their payloads hold references only (ids, names); what a task needs beyond them (grants, the
 * evaluation's context) it asks for over its worker's authenticated channel (`WORKER_RPC`), so no
 * presigned URL or service address is ever stored in a job.
 */
export const internalJobKindSchema = z.enum(['evaluation_shard', 'checkpoint_import']);
export type InternalJobKind = z.infer<typeof internalJobKindSchema>;

/** One shard of an evaluation: pulls cases from the evaluation's queue until none is left. */
export const evaluationShardTaskSchema = z
  .object({ evaluationId: identifierSchema, shard: z.number().int().min(0).max(1024) })
  .strict();

/** What every internal task states besides its kind and payload. */
const taskShape = {
  name: z.string().min(1).max(128),
  priority: z.number().int().min(-100).max(100).default(0),
  maxRestarts: z.number().int().min(0).max(20).default(0),
};

export const evaluationShardJobSpecSchema = z
  .object({
    ...taskShape,
    kind: z.literal('evaluation_shard'),
    resources: resourcesSchema.default({ nodes: 1, gpus: 0, cpuProcesses: 1, waitForCapacity: true }),
    /** The dataset root the worker's preflight resolves (the evaluation's `dataset.root`). */
    data: dataSchema.default({ paths: [] }),
    evaluationShard: evaluationShardTaskSchema,
  })
  .strict()
  .meta({ id: 'EvaluationShardJobSpec' });
export type EvaluationShardJobSpec = z.infer<typeof evaluationShardJobSpecSchema>;

export const legacyCheckpointFormatSchema = z.enum(['auto', 'pth', 'lightning']);

/** The conversion of one uploaded legacy file; its job's committed checkpoint is the imported one. */
export const checkpointImportTaskSchema = z
  .object({
    importId: identifierSchema,
    /** The file's original name (for the log and the checkpoint's meta). */
    fileName: z.string().min(1).max(256),
    format: legacyCheckpointFormatSchema.default('auto'),
    /** Step recorded when the file does not say (Lightning files do). */
    step: z.number().int().min(0).optional(),
  })
  .strict();

export const checkpointImportJobSpecSchema = z
  .object({
    ...taskShape,
    kind: z.literal('checkpoint_import'),
    resources: resourcesSchema.default({ nodes: 1, gpus: 0, cpuProcesses: 1, waitForCapacity: false }),
    /** Retention of the one checkpoint the import commits. */
    checkpoint: checkpointPolicySchema.default({ keepLast: 1 }),
    checkpointImport: checkpointImportTaskSchema,
  })
  .strict()
  .meta({ id: 'CheckpointImportJobSpec' });
export type CheckpointImportJobSpec = z.infer<typeof checkpointImportJobSpecSchema>;

/** Every job the scheduler runs: a researcher's training, or an internal task. */
export const jobSpecSchema = z
  .discriminatedUnion('kind', [trainingJobSpecSchema, evaluationShardJobSpecSchema, checkpointImportJobSpecSchema])
  .meta({ id: 'JobSpec' });

/** The spec as submitted (defaults not yet applied). */
export type JobSpecInput = z.input<typeof jobSpecSchema>;
/** The spec after validation, with defaults applied. */
export type JobSpec = z.infer<typeof jobSpecSchema>;

export function isTrainingSpec(spec: JobSpec): spec is TrainingJobSpec {
  return spec.kind !== 'evaluation_shard' && spec.kind !== 'checkpoint_import';
}
