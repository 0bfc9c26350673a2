import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, timestampSchema } from './common.schema';
import { checkpointIdSchema } from './checkpoint-ref.schema';
import { evaluationSpecSchema } from './evaluation-spec.schema';

/**
 * `planning` (waiting for the first shard to list the cases), `running` (cases on the queue),
 * `succeeded` (every case has a result and the reports are written), `failed` (no case could be
 * planned, or every shard job ended while cases were left).
 */
export const evaluationStatusSchema = z.enum(['planning', 'running', 'succeeded', 'failed']);
export type EvaluationStatus = z.infer<typeof evaluationStatusSchema>;

/** Mean, standard deviation (population), median, min and max of one metric over `count` cases. */
export const metricStatsSchema = z
  .object({ count: z.number().int().min(0), mean: z.number(), std: z.number(), median: z.number(), min: z.number(), max: z.number() })
  .strict();
export type MetricStats = z.infer<typeof metricStatsSchema>;

export const metricsSummarySchema = z.record(z.string(), metricStatsSchema);

export const evaluationSummarySchema = z
  .object({
    cases: z.number().int().min(0),
    /** Cases whose post-processing fell back to the unfiltered mask. */
    fallbacks: z.number().int().min(0),
    overall: metricsSummarySchema,
    byDefectClass: z.record(z.string(), z.object({ cases: z.number().int().min(0), metrics: metricsSummarySchema }).strict()),
  })
  .strict();
export type EvaluationSummary = z.infer<typeof evaluationSummarySchema>;

export const resolvedModelSchema = z
  .object({ jobId: identifierSchema, checkpointId: checkpointIdSchema, step: z.number().int().min(0), config: z.record(z.string(), z.unknown()) })
  .strict();
export type ResolvedModel = z.infer<typeof resolvedModelSchema>;

/** The pinned checkpoints of an evaluation by role: PCDiff's `diffusion` + `voxelization`, a volume family's `model`. */
export const pcdiffEvaluationModelsSchema = z
  .object({ diffusion: resolvedModelSchema, voxelization: resolvedModelSchema })
  .strict()
  .meta({ id: 'PcdiffEvaluationModels' });
export const volumeEvaluationModelsSchema = z.object({ model: resolvedModelSchema }).strict().meta({ id: 'VolumeEvaluationModels' });
export const evaluationModelsSchema = z.union([pcdiffEvaluationModelsSchema, volumeEvaluationModelsSchema]).meta({ id: 'EvaluationModels' });
export type EvaluationModels = z.infer<typeof evaluationModelsSchema>;

/** The family options that ran, as the first shard resolved them from the checkpoint's config (patch, stride, threshold...). */
export const evaluationOptionsSchema = z.record(z.string().min(1).max(64), z.union([z.string().max(256), z.number(), z.boolean(), z.array(z.number()).max(8)]));

/** The report files, by format, as object keys under `evaluations/<eval>/` (read them at `GET /v1/evaluations/<id>/reports/<format>`). */
export const evaluationReportsSchema = z.object({ markdown: z.string(), yaml: z.string(), csv: z.string() }).strict();

export const evaluationRecordSchema = z
  .object({
    id: identifierSchema,
    /** The API user who asked for it (an auto-evaluation: the training job's owner). */
    owner: userNameSchema.optional(),
    name: z.string().optional(),
    status: evaluationStatusSchema,
    spec: evaluationSpecSchema,
    models: evaluationModelsSchema,
    /** Set when planned: the family options that ran (volume families; PCDiff's are all in the spec). */
    options: evaluationOptionsSchema.optional(),
    shardJobs: z.array(identifierSchema),
    progress: z
      .object({
        /** Unknown (null) until the cases are planned. */
        total: z.number().int().min(0).nullable(),
        done: z.number().int().min(0),
        /** Remaining cases × mean seconds per case ÷ shards; null until a case is done. */
        etaSeconds: z.number().min(0).nullable(),
      })
      .strict(),
    summary: evaluationSummarySchema.optional(),
    reports: evaluationReportsSchema.optional(),
    error: z.string().optional(),
    /** Set on an auto-evaluation: the training job and the committed checkpoint it evaluates. */
    origin: z.object({ jobId: identifierSchema, checkpointId: checkpointIdSchema }).strict().optional(),
    createdAt: timestampSchema,
    plannedAt: timestampSchema.optional(),
    finishedAt: timestampSchema.optional(),
  })
  .strict()
  .meta({ id: 'EvaluationRecord' });
export type EvaluationRecord = z.infer<typeof evaluationRecordSchema>;
