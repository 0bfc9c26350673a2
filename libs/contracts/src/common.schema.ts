import { z } from 'zod';
import { SCHEMA_VERSION } from './version';

/** Every message carries the schema version it was written with. */
export const schemaVersionSchema = z.literal(SCHEMA_VERSION);

/** Identifiers appear in NATS subjects and Redis keys, so they are restricted to a safe alphabet. */
export const identifierSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'use letters, digits, "-" and "_" only, starting with a letter or digit');

/** ISO-8601 timestamp in UTC, as written by `new Date().toISOString()` or Python's `isoformat()`. */
export const timestampSchema = z.string().min(20).max(40);
