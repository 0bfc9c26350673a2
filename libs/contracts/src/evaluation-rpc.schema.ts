import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, schemaVersionSchema } from './common.schema';
import { accessGrantSchema } from './checkpoint-grant.schema';
import { evaluationCaseIdSchema } from './evaluation-case.schema';
import { evaluationModelsSchema, evaluationOptionsSchema, evaluationRecordSchema } from './evaluation-record.schema';
import { pageCursorSchema } from './page.schema';
import { evaluationSpecSchema } from './evaluation-spec.schema';

/** Requests and replies of the evaluation service (subjects in `RPC.evaluations*`). */

/** The spec travels unparsed: the service validates it (the gateway too, for a 400 with paths); `owner` is the API user it is recorded for. */
export const evaluationCreateRequestSchema = z.object({ v: schemaVersionSchema, spec: z.unknown(), owner: userNameSchema.optional() }).strict();

export const evaluationIdRequestSchema = z
  .object({ v: schemaVersionSchema, evaluationId: identifierSchema })
  .strict()
  .meta({ id: 'EvaluationIdRequest' });

/** What a shard needs to start: the spec, the pinned checkpoints with their trainer configs, and the queue. */
export const evaluationShardContextSchema = z
  .object({
    evaluationId: identifierSchema,
    spec: evaluationSpecSchema,
    models: evaluationModelsSchema,
    stream: z.string(),
    consumer: z.string(),
    /** True once the case list is fixed; a shard that finds it false plans (lists the cases) first. */
    planned: z.boolean(),
    /** True when every case has a result: the shard exits at once. */
    complete: z.boolean(),
  })
  .strict()
  .meta({ id: 'EvaluationShardContext' });
export type EvaluationShardContext = z.infer<typeof evaluationShardContextSchema>;

/** The case list a shard read from the split; the first plan wins, later ones are answered with it. */
export const evaluationPlanRequestSchema = z
  .object({
    v: schemaVersionSchema,
    evaluationId: identifierSchema,
    cases: z
      .array(z.object({ caseId: evaluationCaseIdSchema, defectClass: z.string().min(1).max(64) }).strict())
      .max(100_000)
      .refine((cases) => new Set(cases.map((c) => c.caseId)).size === cases.length, 'case ids must be unique'),
    /** The family options resolved from the checkpoint's config, stored with the plan for the report. */
    options: evaluationOptionsSchema.optional(),
    /** Why the list is empty (no case matched), for the evaluation's error. */
    problem: z.string().max(4096).optional(),
  })
  .strict()
  .meta({ id: 'EvaluationPlanRequest' });
export type EvaluationPlanRequest = z.infer<typeof evaluationPlanRequestSchema>;

export const evaluationPlanReplySchema = z.object({ total: z.number().int().min(0) }).strict().meta({ id: 'EvaluationPlanReply' });

/** A write grant for one artefact of one case (`evaluations/<eval>/cases/<case>/<file>`). */
export const evaluationArtifactRequestSchema = z
  .object({
    v: schemaVersionSchema,
    evaluationId: identifierSchema,
    caseId: evaluationCaseIdSchema,
    file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'a file name such as implant.nrrd'),
  })
  .strict()
  .meta({ id: 'EvaluationArtifactRequest' });

export const evaluationArtifactGrantSchema = z
  .object({ key: z.string(), grant: accessGrantSchema })
  .strict()
  .meta({ id: 'EvaluationArtifactGrant' });

/** Reply to a stored result: how many cases have one. */
export const evaluationResultReplySchema = z
  .object({ done: z.number().int().min(0), total: z.number().int().min(0) })
  .strict()
  .meta({ id: 'EvaluationResultReply' });

/** Evaluations newest first, a page at a time (the gateway narrows a user to its own). */
export const evaluationListRequestSchema = z
  .object({ v: schemaVersionSchema, owner: userNameSchema.optional(), limit: z.number().int().min(1).max(1000).default(100), cursor: pageCursorSchema.optional() })
  .strict();
export type EvaluationListRequest = z.infer<typeof evaluationListRequestSchema>;

export const evaluationPageSchema = z
  .object({ evaluations: z.array(evaluationRecordSchema), nextCursor: pageCursorSchema.optional() })
  .strict()
  .meta({ id: 'EvaluationPage' });
export type EvaluationPage = z.infer<typeof evaluationPageSchema>;

/** The report formats of a finished evaluation. */
export const evaluationReportFormatSchema = z.enum(['markdown', 'yaml', 'csv']);
export type EvaluationReportFormat = z.infer<typeof evaluationReportFormatSchema>;

/** A read grant for one report of a succeeded evaluation; only the gateway asks, and streams the file. */
export const evaluationReportRequestSchema = z
  .object({ v: schemaVersionSchema, evaluationId: identifierSchema, format: evaluationReportFormatSchema })
  .strict();
