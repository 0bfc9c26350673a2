import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

const seconds = z.coerce.number().positive();

export const metricsEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_METRICS_PORT: portSchema.default(8083),
  /** A finished job's Prometheus series are removed this long after it ends (bounded cardinality). */
  HOUNSFIELD_METRICS_FINISHED_JOB_TTL_SECONDS: seconds.default(900),
  /** A finished evaluation's Prometheus series (progress, metric distributions, means) are removed this long after it ends. */
  HOUNSFIELD_METRICS_FINISHED_EVALUATION_TTL_SECONDS: seconds.default(3600),
  /** A worker silent for this long loses its GPU series. */
  HOUNSFIELD_METRICS_WORKER_TTL_SECONDS: seconds.default(120),
  /** Stored series and alerts of a job are deleted this long after its last report. */
  HOUNSFIELD_METRICS_RETENTION_SECONDS: seconds.default(30 * 24 * 3600),
  /** Buckets of steps kept per job (all its series share them, so each series has at most this many points); beyond it neighbours merge (the stride doubles). */
  HOUNSFIELD_METRICS_POINTS_PER_SERIES: z.coerce.number().int().min(16).max(100_000).default(1000),
  /** Series stored per job; names beyond it are counted and dropped. */
  HOUNSFIELD_METRICS_SERIES_PER_JOB: z.coerce.number().int().min(1).max(1000).default(64),
  /** How often the queue and GPU leases are read from the scheduler. */
  HOUNSFIELD_METRICS_SCHEDULER_POLL_SECONDS: seconds.default(5),
  /** Messages pulled and processed together (one Redis round trip per batch). */
  HOUNSFIELD_METRICS_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Defaults for the job spec's `monitoring` thresholds. */
  HOUNSFIELD_METRICS_LOSS_SPIKE_FACTOR: z.coerce.number().gt(1).default(3),
  HOUNSFIELD_METRICS_STALL_SECONDS: seconds.default(900),
  /**
   * Before an attempt reports that its trainer runs (preflight, downloads, imports, building the
   * model), silence counts as a stall only after at least this long (or the stall threshold, if larger).
   */
  HOUNSFIELD_METRICS_STARTUP_SECONDS: seconds.default(600),
  /** Reports in the moving average that spikes and divergence compare against. */
  HOUNSFIELD_METRICS_LOSS_WINDOW: z.coerce.number().int().min(2).max(1000).default(20),
  /** Divergence: the moving average stays above this multiple of its best for a whole window. */
  HOUNSFIELD_METRICS_DIVERGENCE_FACTOR: z.coerce.number().gt(1).default(2),
  /** Data-bound: mean utilisation of the job's GPUs below this … */
  HOUNSFIELD_METRICS_DATA_BOUND_UTILIZATION_PERCENT: z.coerce.number().min(0).max(100).default(50),
  /** … while waiting for data takes at least this fraction of the step … */
  HOUNSFIELD_METRICS_DATA_WAIT_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
  /** … for this many consecutive reports. */
  HOUNSFIELD_METRICS_DATA_BOUND_REPORTS: z.coerce.number().int().min(1).default(3),
  /** Tiny batch: a per-device batch of 1 at this world size or more. */
  HOUNSFIELD_METRICS_TINY_BATCH_WORLD_SIZE: z.coerce.number().int().min(2).default(4),
});
export type MetricsConfig = z.infer<typeof metricsEnvSchema>;
export const METRICS_CONFIG = Symbol('METRICS_CONFIG');

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return parseEnv(metricsEnvSchema, env);
}
