import { z } from 'zod';
import { identifierSchema, timestampSchema } from './common.schema';
import { metricValueSchema } from './progress-event.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';

/** The checkpoint directory format written by `hounsfield.sdk` (meta.json's `formatVersion`). */
export const CHECKPOINT_FORMAT = 'hounsfield.checkpoint' as const;
export const CHECKPOINT_FORMAT_VERSION = 1 as const;

/**
 * A state key of a checkpoint: `model` (weights, safetensors), `optimizer`, `ema`, `scaler`, `rng`,
 * `sampler` or a trainer's own key. It names a file in the directory, so the alphabet is narrow.
 */
export const checkpointStateKeySchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'a state key: letters, digits, "_" and "-", starting with a letter or digit');

/** One file of a checkpoint directory (a single path segment, portable to every object store). */
export const checkpointFileNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a file name: letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((name) => !name.endsWith('.hf-tmp'), 'names ending in .hf-tmp are reserved for in-progress writes');

/** Where an imported checkpoint came from. */
export const checkpointSourceSchema = z
  .object({
    kind: z.enum(['pth', 'lightning']),
    /** The original file name. */
    file: z.string().min(1).max(256),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Devices the source's tensors were saved on (for example `cuda:7`); all are on the CPU now. */
    devices: z.array(z.string().max(32)).max(64),
  })
  .strict();

/**
 * `meta.json` of a checkpoint directory: what was trained, how far, with which batch layout. The
 * checkpoints service reads it from the store after verifying the upload, so the registry never
 * trusts a second copy sent alongside.
 */
export const checkpointMetaSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    /** Readers refuse versions newer than they know, with a message naming both. */
    formatVersion: z.number().int().min(1),
    /** Absent for standalone runs. */
    jobId: identifierSchema.optional(),
    attempt: z.number().int().min(1).optional(),
    /** Optimizer steps completed when the checkpoint was taken. */
    step: z.number().int().min(0),
    epoch: z.number().min(0).optional(),
    /** Processes that trained up to this point; resuming may use another count. */
    worldSize: z.number().int().min(1),
    resolved: resolvedHyperparametersSchema.optional(),
    /** Samples consumed in the world-size independent sample order (the sampler's position). */
    globalSampleIndex: z.number().int().min(0).optional(),
    metrics: z.record(z.string().min(1).max(128), metricValueSchema),
    /** sha256 of the canonical JSON of the trainer config and hyperparameters; a resume warns when it differs. */
    configHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** Which file holds each state key. */
    stateFiles: z.record(checkpointStateKeySchema, checkpointFileNameSchema),
    createdAt: timestampSchema,
    torchVersion: z.string().max(64).optional(),
    source: checkpointSourceSchema.optional(),
    /** The recipe that trained it (absent for user scripts and imports). */
    recipe: z
      .object({ kind: z.string().min(1).max(64), version: z.string().min(1).max(32), preset: z.string().max(64).optional() })
      .strict()
      .optional(),
    /** What the weights depend on beyond the config: a data manifest hash, a frozen network's sha256, warm-start source. */
    provenance: z.record(z.string().min(1).max(64), z.string().max(512)).optional(),
  })
  .strict()
  .meta({ id: 'CheckpointMeta' });
export type CheckpointMeta = z.infer<typeof checkpointMetaSchema>;
