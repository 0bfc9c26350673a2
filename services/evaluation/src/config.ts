import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { StorageConfig, storageConfigFromEnv } from '@hounsfield/storage';
import { z } from 'zod';

export const evaluationEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_EVALUATION_PORT: portSchema.default(8084),
  /** How long artefact write grants and report download grants stay valid. */
  HOUNSFIELD_EVALUATION_GRANT_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  /**
   * How long an auto-evaluation pins the checkpoint it evaluates when the job's retention waits for
   * evaluation verdicts (which keep the checkpoint meanwhile); the bytes of a checkpoint retention
   * then retires go once this pin ends. Other evaluations pin their checkpoints for 7 days.
   */
  HOUNSFIELD_AUTO_EVALUATION_PIN_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(600),
  /** How often unfinished evaluations are reconciled (shards supervised, cases re-queued, reports written). */
  HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
  /**
   * Shard jobs submitted beyond `spec.shards` when every shard has ended with cases left (a shard
   * that crashed on a bad node); past this many the evaluation fails with the shards' reasons.
   */
  HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS: z.coerce.number().int().min(0).max(100).default(2),
});

/** The parsed environment plus the object store settings (HOUNSFIELD_STORAGE_* / HOUNSFIELD_S3_*). */
export type EvaluationConfig = z.infer<typeof evaluationEnvSchema> & { storage: StorageConfig };

export const EVALUATION_CONFIG = Symbol('EVALUATION_CONFIG');

export function loadEvaluationConfig(env: NodeJS.ProcessEnv = process.env): EvaluationConfig {
  return { ...parseEnv(evaluationEnvSchema, env), storage: storageConfigFromEnv(env) };
}
