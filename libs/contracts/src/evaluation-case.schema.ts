import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/** Case ids come from dataset directories (`000_bilateral`), so they take the identifier alphabet. */
export const evaluationCaseIdSchema = identifierSchema;

/** One case of an evaluation: a message on the EVAL work queue (message id `<eval>:<case>`). */
export const evaluationCaseSchema = z
  .object({
    v: schemaVersionSchema,
    evaluationId: identifierSchema,
    caseId: evaluationCaseIdSchema,
    defectClass: z.string().min(1).max(64),
    /** Position in the planned case list; seeds the case's sampling so any shard gets the same result. */
    index: z.number().int().min(0),
  })
  .strict()
  .meta({ id: 'EvaluationCase' });
export type EvaluationCase = z.infer<typeof evaluationCaseSchema>;

/** Per-case metric values (DSC, bDSC, HD95 in mm, ...); finite by the metrics' definitions. */
export const caseMetricsSchema = z.record(z.string().min(1).max(64), z.number());

/** A stored artefact of a case, as an object key under `evaluations/<eval>/cases/<case>/`. */
export const caseArtifactSchema = z.object({ name: z.string().min(1).max(128), key: z.string().min(1).max(1024) }).strict();

/** What a shard reports when a case is done; stored by case, so a redelivered case overwrites. */
export const evaluationCaseResultSchema = z
  .object({
    v: schemaVersionSchema,
    evaluationId: identifierSchema,
    caseId: evaluationCaseIdSchema,
    defectClass: z.string().min(1).max(64),
    metrics: caseMetricsSchema,
    /** The post-processing fell back to the unfiltered mask (it emptied the implant). */
    fallback: z.boolean().default(false),
    seconds: z.number().min(0),
    shardJobId: identifierSchema.optional(),
    artifacts: z.array(caseArtifactSchema).max(16).default([]),
    finishedAt: timestampSchema,
  })
  .strict()
  .meta({ id: 'EvaluationCaseResult' });
export type EvaluationCaseResult = z.infer<typeof evaluationCaseResultSchema>;
