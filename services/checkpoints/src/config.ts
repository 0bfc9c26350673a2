import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { StorageConfig, storageConfigFromEnv } from '@hounsfield/storage';
import { z } from 'zod';

const seconds = (fallback: number) => z.coerce.number().int().min(1).max(7 * 24 * 3600).default(fallback);

export const checkpointsEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_CHECKPOINTS_PORT: portSchema.default(8082),
  /**
   * Files are stored as parts of this many MiB. The service verifies each part while the worker
   * uploads the next, so a commit waits for one part at most; parts also keep every object far
   * below S3's 5 GiB single-request limit.
   */
  HOUNSFIELD_CHECKPOINT_PART_MIB: z.coerce.number().int().min(1).max(4096).default(64),
  /** How long a presigned URL (upload or download) stays valid. */
  HOUNSFIELD_CHECKPOINT_GRANT_SECONDS: seconds(3600),
  /** An upload not committed within this time is abandoned and its parts deleted. */
  HOUNSFIELD_CHECKPOINT_UPLOAD_TTL_SECONDS: seconds(24 * 3600),
  /** A resolved checkpoint's bytes outlive its removal by retention for at least this long. */
  HOUNSFIELD_CHECKPOINT_PIN_SECONDS: seconds(3600),
  /** Legacy files uploaded for import are deleted after this time. */
  HOUNSFIELD_CHECKPOINT_IMPORT_TTL_SECONDS: seconds(3 * 24 * 3600),
  /**
   * A job's attempt logs are deleted this long after the last log segment any of its attempts
   * stored (in practice: after the job ended). Default 30 days.
   */
  HOUNSFIELD_LOG_RETENTION_SECONDS: z.coerce.number().int().min(1).max(10 * 365 * 24 * 3600).default(30 * 24 * 3600),
  /** How often abandoned uploads, expired imports, retired checkpoints and expired logs are swept from the store. */
  HOUNSFIELD_CHECKPOINT_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).default(60_000),
});

/** The parsed environment plus the object store settings (HOUNSFIELD_STORAGE_* / HOUNSFIELD_S3_*). */
export type CheckpointsConfig = z.infer<typeof checkpointsEnvSchema> & { storage: StorageConfig };

export const CHECKPOINTS_CONFIG = Symbol('CHECKPOINTS_CONFIG');

export function loadCheckpointsConfig(env: NodeJS.ProcessEnv = process.env): CheckpointsConfig {
  return { ...parseEnv(checkpointsEnvSchema, env), storage: storageConfigFromEnv(env) };
}

export const MiB = 1024 * 1024;
