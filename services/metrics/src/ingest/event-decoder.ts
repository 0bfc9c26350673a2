import { checkpointEventSchema, evaluationEventSchema, platformEventSchema, SCHEMA_VERSION } from '@hounsfield/contracts';
import { describeIssues } from '@hounsfield/messaging';
import { z } from 'zod';

/** What the metrics service reads from the EVENTS stream: the platform's events, the checkpoint and evaluation services'. */
export const metricsEventSchema = z.discriminatedUnion('type', [...platformEventSchema.options, checkpointEventSchema, ...evaluationEventSchema.options]);
export type MetricsEvent = z.infer<typeof metricsEventSchema>;

/** Why an event was refused; the label of `hounsfield_events_rejected_total`. */
export type RejectReason = 'malformed_json' | 'unknown_version' | 'invalid_event';

export type Decoded = { ok: true; event: MetricsEvent } | { ok: false; reason: RejectReason; detail: string };

const decoder = new TextDecoder();

/**
 * Parses and validates one EVENTS message. A message of another schema version is told apart from
 * a broken one, so an operator sees at once when producers run a newer release than this service.
 */
export function decodeEvent(data: Uint8Array): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    return { ok: false, reason: 'malformed_json', detail: 'payload is not valid JSON' };
  }
  const version = typeof raw === 'object' && raw !== null ? (raw as { v?: unknown }).v : undefined;
  if (version !== SCHEMA_VERSION) {
    return { ok: false, reason: 'unknown_version', detail: `schema version ${JSON.stringify(version)}; this service reads ${SCHEMA_VERSION}` };
  }
  const parsed = metricsEventSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'invalid_event', detail: describeIssues(parsed.error) };
  return { ok: true, event: parsed.data };
}
