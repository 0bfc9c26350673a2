import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/** JSON has no NaN or Infinity; trainers report them as these strings so alerts can see them. */
export const metricValueSchema = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);
export type MetricValue = z.infer<typeof metricValueSchema>;

/** One progress report of a running trainer (rank 0), relayed by the worker agent. */
export const progressEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('progress'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    /** Increases by one per report within an attempt; lets consumers order and de-duplicate. */
    seq: z.number().int().min(0),
    step: z.number().int().min(0),
    epoch: z.number().min(0).optional(),
    totalSteps: z.number().int().min(1).optional(),
    /** Loss terms and other scalars, by name. */
    metrics: z.record(z.string().min(1).max(128), metricValueSchema),
    lr: z.number().min(0).optional(),
    samplesPerSecond: z.number().min(0).optional(),
    /** Time the step spent waiting for data, in seconds (averaged over the reporting window). */
    dataWaitSeconds: z.number().min(0).optional(),
    /** Wall time of one step, in seconds (averaged over the reporting window). */
    stepSeconds: z.number().min(0).optional(),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'ProgressEvent' });
export type ProgressEvent = z.infer<typeof progressEventSchema>;
