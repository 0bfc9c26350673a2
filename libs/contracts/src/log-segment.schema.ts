import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/** The largest segment a worker may store (workers cut theirs at HOUNSFIELD_LOG_SEGMENT_KIB). */
export const LOG_SEGMENT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A worker asks where to store segment `index` of an attempt's log (`RPC.logsSegmentGrant`); the
 * reply is an AccessGrant. The open segment is stored again, whole, as it grows.
 */
export const logSegmentGrantRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    index: z.number().int().min(0).max(999_999),
  })
  .strict()
  .meta({ id: 'LogSegmentGrantRequest' });
export type LogSegmentGrantRequest = z.infer<typeof logSegmentGrantRequestSchema>;

/**
 * A stored segment becomes readable (`RPC.logsSegmentCommit`): its first `bytes` hold `lines`
 * whole lines, seq `firstSeq` onwards. Segments `1 … droppedBefore - 1` were deleted by rotation
 * on the worker and are deleted from the store too (segment 0 is always kept); `final` marks the
 * attempt's log complete.
 */
export const logSegmentCommitSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    index: z.number().int().min(0).max(999_999),
    firstSeq: z.number().int().min(0),
    lines: z.number().int().min(0),
    bytes: z.number().int().min(0).max(LOG_SEGMENT_MAX_BYTES),
    /** No line will be added to this segment. */
    closed: z.boolean(),
    droppedBefore: z.number().int().min(1),
    final: z.boolean(),
    /** When the worker read what it stored: lines after it reach the live stream later. */
    capturedAt: timestampSchema,
    /** The worker's cap on this attempt's log (HOUNSFIELD_LOG_MAX_MIB), for the reader's notes. */
    maxBytes: z.number().int().min(1),
  })
  .strict()
  .refine((c) => c.index === 0 || c.index >= c.droppedBefore, { message: 'a committed segment cannot be one it reports dropped', path: ['index'] })
  .meta({ id: 'LogSegmentCommit' });
export type LogSegmentCommit = z.infer<typeof logSegmentCommitSchema>;

/** What the store holds of one attempt's log. */
export const logAttemptSummarySchema = z
  .object({
    attempt: z.number().int().min(1),
    /** Lines seq 0 … lines - 1 were written (some may have been dropped by rotation). */
    lines: z.number().int().min(0),
    /** Bytes stored now. */
    bytes: z.number().int().min(0),
    complete: z.boolean(),
    updatedAt: timestampSchema,
  })
  .strict()
  .meta({ id: 'LogAttemptSummary' });
export type LogAttemptSummary = z.infer<typeof logAttemptSummarySchema>;
