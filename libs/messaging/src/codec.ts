import { z } from 'zod';
import { MessagingError } from './messaging.errors';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Human-readable list of zod issues: `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Parses bytes as JSON and validates them; anything else is unprocessable. */
export function decodeJson<T extends z.ZodType>(schema: T, data: Uint8Array): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    throw MessagingError.unprocessable('payload is not valid JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw MessagingError.unprocessable(describeIssues(parsed.error));
  }
  return parsed.data;
}
