import { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { z } from 'zod';
import { describeIssues, encodeJson } from './codec';

/**
 * Validates a message against its schema and publishes it to JetStream with a message id, so a
 * re-publish after a crash is de-duplicated by the server instead of delivered twice.
 */
export async function publishValidated<T extends z.ZodType>(
  js: JetStreamClient,
  subject: string,
  schema: T,
  payload: z.input<T>,
  msgId: string,
): Promise<PubAck> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    throw new Error(`refusing to publish an invalid message on ${subject}: ${describeIssues(parsed.error)}`);
  }
  return js.publish(subject, encodeJson(parsed.data), { msgID: msgId });
}
