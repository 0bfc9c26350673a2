import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/**
 * Training-health problems the metrics service recognises:
 * - `non_finite_loss`: a loss term was NaN or ±Inf;
 * - `loss_spike`: a loss term jumped above k × its recent moving average;
 * - `loss_divergence`: a loss term's moving average kept rising far above its best;
 * - `stall`: no progress for longer than the stall time while the trainer process lives;
 * - `data_bound`: the GPUs idle while the step waits on data;
 * - `tiny_per_device_batch`: one sample per device over a large world size.
 */
export const alertKindSchema = z.enum([
  'non_finite_loss',
  'loss_spike',
  'loss_divergence',
  'stall',
  'data_bound',
  'tiny_per_device_batch',
]);
export type AlertKind = z.infer<typeof alertKindSchema>;

/**
 * A training-health alert of one attempt of a job, published on `hf.events.job.<id>.alert` when it
 * fires and (for conditions that can end, such as a stall) when it resolves. `GET /v1/jobs/:id`
 * shows the latest event of each alert.
 */
export const alertEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('alert'),
    /** Stable per attempt, kind and metric: `<job>:<attempt>:<kind>[:<metric>]`. */
    alertId: z.string().min(1).max(256),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    kind: alertKindSchema,
    status: z.enum(['firing', 'resolved']),
    severity: z.enum(['critical', 'warning']),
    /** The loss term concerned, for loss alerts. */
    metric: z.string().min(1).max(128).optional(),
    /** The training step at which the alert fired (at which it resolved, once resolved). */
    step: z.number().int().min(0).optional(),
    /** What was observed when it fired (or resolved), with the numbers. */
    summary: z.string().min(1).max(2048),
    /** What to change, in words a researcher can act on. */
    advice: z.string().min(1).max(4096),
    /** How many times the condition was seen while this alert fired (spikes repeat). */
    occurrences: z.number().int().min(1),
    firedAt: timestampSchema,
    /** When the condition was last seen, or the alert resolved. */
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'AlertEvent' });
export type AlertEvent = z.infer<typeof alertEventSchema>;
