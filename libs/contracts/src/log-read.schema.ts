import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { logLineSchema, logSourceSchema } from './log-line.schema';
import { logAttemptSummarySchema } from './log-segment.schema';

/** One page of a reply stays well below NATS's 1 MiB message limit. */
export const LOG_READ_MAX_BYTES = 512 * 1024;

/**
 * Reads stored log lines (`RPC.logsRead`), one page at a time: the attempt (latest when absent),
 * lines of one source only (`rank`), the last `tail` lines, or the lines after `afterSeq` up to
 * `untilSeq` (a later page passes the first reply's `lastSeq` here, so the read ends where it began).
 */
export const logReadRequestSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1).optional(),
    rank: logSourceSchema.optional(),
    tail: z.number().int().min(0).max(1_000_000).optional(),
    afterSeq: z.number().int().min(-1).optional(),
    untilSeq: z.number().int().min(-1).optional(),
    maxBytes: z.number().int().min(1024).max(LOG_READ_MAX_BYTES).optional(),
  })
  .strict()
  .refine((r) => r.tail === undefined || r.afterSeq === undefined, { message: 'tail and afterSeq exclude each other', path: ['tail'] })
  .meta({ id: 'LogReadRequest' });
export type LogReadRequest = z.infer<typeof logReadRequestSchema>;

export const logReadReplySchema = z
  .object({
    jobId: identifierSchema,
    /** The attempt read; null when the job has no stored log yet. */
    attempt: z.number().int().min(1).nullable(),
    attempts: z.array(logAttemptSummarySchema),
    lines: z.array(logLineSchema),
    /** The read ends at this seq (-1: nothing stored); pass it as `untilSeq` with the next page. */
    lastSeq: z.number().int().min(-1),
    /** Pass as `afterSeq` for the next page; null when this was the last. */
    nextAfterSeq: z.number().int().min(-1).nullable(),
    complete: z.boolean(),
    /** When the worker read the stored text (null: nothing stored): newer lines reached the live stream after it. */
    capturedAt: timestampSchema.nullable(),
  })
  .strict()
  .meta({ id: 'LogReadReply' });
export type LogReadReply = z.infer<typeof logReadReplySchema>;
