import { z } from 'zod';

/**
 * How the metrics service watches a job's health. Thresholds left out take the service's defaults
 * (HOUNSFIELD_METRICS_* variables), so operators tune them in one place.
 */
export const monitoringPolicySchema = z
  .object({
    /** End the job `failed` as soon as a loss term is NaN or ±Inf, instead of only alerting. */
    failOnNonFiniteLoss: z.boolean().default(false),
    /** Metrics treated as loss terms; by default every reported metric whose name contains "loss". */
    lossTerms: z.array(z.string().min(1).max(128)).min(1).max(64).optional(),
    /** A loss term above this multiple of its recent moving average is a spike. */
    lossSpikeFactor: z.number().gt(1).max(1000).optional(),
    /** No progress report for this many seconds while the trainer runs is a stall. */
    stallSeconds: z.number().positive().max(7 * 24 * 3600).optional(),
  })
  .strict();
export type MonitoringPolicy = z.infer<typeof monitoringPolicySchema>;
