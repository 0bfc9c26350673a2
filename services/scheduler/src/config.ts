import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const schedulerEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_SCHEDULER_PORT: portSchema.default(8081),
  /** A worker silent for this long is dead: its GPUs leave the pool and its jobs are requeued. */
  HOUNSFIELD_WORKER_TTL_SECONDS: z.coerce.number().positive().default(15),
  /**
   * A worker silent for longer than the TTL leaves the pool at once, but its attempts stay assigned
   * until it has been silent this long (the job shows "worker lost, waiting N s"): an agent that
   * restarts within the window re-adopts its running trainers. 0 (or below the TTL): requeue at the TTL.
   */
  HOUNSFIELD_WORKER_RECONNECT_SECONDS: z.coerce.number().min(0).default(60),
  /** An assignment no worker acknowledged within this time is withdrawn and placed again. */
  HOUNSFIELD_ASSIGN_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
  /** GPUs above this utilisation without a lease of ours count as busy. */
  HOUNSFIELD_BUSY_UTILIZATION_PERCENT: z.coerce.number().min(0).max(100).default(90),
  /**
   * A starting or running attempt that its live worker's heartbeats have not listed for this long
   * was lost by the worker (its agent restarted, say): it is requeued without spending a restart.
   */
  HOUNSFIELD_LOST_ATTEMPT_SECONDS: z.coerce.number().positive().default(15),
  /**
   * A GPU job first in line that has waited this long and still does not fit gets a worker held
   * back for it: smaller jobs no longer backfill there, so its GPUs add up (0 disables).
   */
  HOUNSFIELD_RESERVE_AFTER_SECONDS: z.coerce.number().min(0).default(600),
  /** How often the reconciler runs (outbox, dead workers, stuck assignments, queue). */
  HOUNSFIELD_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(50).default(1000),
});
export type SchedulerConfig = z.infer<typeof schedulerEnvSchema>;

export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return parseEnv(schedulerEnvSchema, env);
}
