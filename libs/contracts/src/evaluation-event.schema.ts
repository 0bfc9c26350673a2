import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { caseMetricsSchema, evaluationCaseIdSchema } from './evaluation-case.schema';

/**
 * What the evaluation service publishes on `hf.events.evaluation.<eval>` once the state change is
 * stored (best effort: the evaluation record is the truth). One `type` per event, like the other
 * events on the EVENTS stream:
 * - `evaluation_planned`: the cases are planned and queued;
 * - `evaluation_case`: a case's result was stored. A redelivered case is scored and stored again
 *   (its result overwrites), so the same case can be published more than once: consumers count
 *   distinct `(evaluationId, caseId)` pairs; `done` is the distinct count the service holds;
 * - `evaluation_succeeded`: every case has a result and the reports are written;
 * - `evaluation_failed`: the evaluation ended without reports.
 */
const base = {
  v: schemaVersionSchema,
  evaluationId: identifierSchema,
  at: timestampSchema,
};

export const evaluationPlannedEventSchema = z
  .object({
    ...base,
    type: z.literal('evaluation_planned'),
    name: z.string().optional(),
    /** Cases planned. */
    total: z.number().int().min(1),
    shards: z.number().int().min(1),
  })
  .strict()
  .meta({ id: 'EvaluationPlannedEvent' });
export type EvaluationPlannedEvent = z.infer<typeof evaluationPlannedEventSchema>;

export const evaluationCaseEventSchema = z
  .object({
    ...base,
    type: z.literal('evaluation_case'),
    caseId: evaluationCaseIdSchema,
    defectClass: z.string().min(1).max(64),
    /** The case's metric values as the shard reported them (DSC, bDSC as ratios, HD95 in mm). */
    metrics: caseMetricsSchema,
    fallback: z.boolean(),
    /** Wall time of the case on its shard. */
    seconds: z.number().min(0),
    /** Distinct cases with a result, this one included. */
    done: z.number().int().min(1),
    total: z.number().int().min(1),
  })
  .strict()
  .meta({ id: 'EvaluationCaseEvent' });
export type EvaluationCaseEvent = z.infer<typeof evaluationCaseEventSchema>;

export const evaluationSucceededEventSchema = z
  .object({
    ...base,
    type: z.literal('evaluation_succeeded'),
    cases: z.number().int().min(0),
    fallbacks: z.number().int().min(0),
    /** Mean of each metric over all cases (the summary's `overall.<metric>.mean`; HD95 in mm). */
    means: z.record(z.string().min(1).max(64), z.number()),
    /** From submission to the reports. */
    seconds: z.number().min(0),
  })
  .strict()
  .meta({ id: 'EvaluationSucceededEvent' });
export type EvaluationSucceededEvent = z.infer<typeof evaluationSucceededEventSchema>;

export const evaluationFailedEventSchema = z
  .object({
    ...base,
    type: z.literal('evaluation_failed'),
    reason: z.string().min(1).max(2048),
    /** From submission to the failure. */
    seconds: z.number().min(0),
  })
  .strict()
  .meta({ id: 'EvaluationFailedEvent' });
export type EvaluationFailedEvent = z.infer<typeof evaluationFailedEventSchema>;

/** Any event of an evaluation, told apart by `type`. */
export const evaluationEventSchema = z.discriminatedUnion('type', [
  evaluationPlannedEventSchema,
  evaluationCaseEventSchema,
  evaluationSucceededEventSchema,
  evaluationFailedEventSchema,
]);
export type EvaluationEvent = z.infer<typeof evaluationEventSchema>;
