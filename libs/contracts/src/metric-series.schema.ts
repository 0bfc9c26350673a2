import { z } from 'zod';
import { identifierSchema, timestampSchema } from './common.schema';

/** Longest metric name a series may have (the same bound as progress-event metric names). */
export const METRIC_NAME_MAX = 128;

/** Asks the metrics service for a job's stored series, optionally by name and step range (inclusive). */
export const metricSeriesRequestSchema = z
  .object({
    jobId: identifierSchema,
    names: z.array(z.string().min(1).max(METRIC_NAME_MAX)).max(64).optional(),
    fromStep: z.number().int().min(0).optional(),
    toStep: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.fromStep === undefined || r.toStep === undefined || r.fromStep <= r.toStep, {
    message: 'from must not be greater than to',
    path: ['fromStep'],
  });
export type MetricSeriesRequest = z.infer<typeof metricSeriesRequestSchema>;

/**
 * One stored point: the reports of `stride` consecutive steps merged into one bucket. `value` is the
 * mean of the finite values (null when none was finite); NaN and ±Inf reports are counted apart.
 */
export const metricPointSchema = z
  .object({
    /** The last step merged into this point. */
    step: z.number().int().min(0),
    attempt: z.number().int().min(1),
    value: z.number().nullable(),
    min: z.number().nullable(),
    max: z.number().nullable(),
    count: z.number().int().min(1),
    nonFinite: z.number().int().min(0),
    at: timestampSchema,
  })
  .strict();
export type MetricPoint = z.infer<typeof metricPointSchema>;

export const metricSeriesSchema = z
  .object({
    name: z.string().min(1).max(METRIC_NAME_MAX),
    /** Steps per point; doubles whenever the series outgrows its point budget. */
    stride: z.number().int().min(1),
    points: z.array(metricPointSchema),
  })
  .strict();
export type MetricSeries = z.infer<typeof metricSeriesSchema>;

/** `GET /v1/jobs/:id/metrics`: the job's series, ordered by name, points ordered by step. */
export const jobMetricsSchema = z
  .object({
    jobId: identifierSchema,
    series: z.array(metricSeriesSchema),
  })
  .strict()
  .meta({ id: 'JobMetrics' });
export type JobMetrics = z.infer<typeof jobMetricsSchema>;
