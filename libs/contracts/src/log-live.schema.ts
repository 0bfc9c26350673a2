import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { logLineSchema } from './log-line.schema';

/**
 * Live log messages on the HF_LOGS stream, subject `hf.logs.<job>.<attempt>` (`SUBJECTS.jobLogs`):
 * the worker agent publishes an attempt's new lines about twice a second, in seq order, and one
 * `end` once the attempt's log is complete and stored. The stream keeps them for a while only; the
 * object store holds the log.
 */
export const logLinesMessageSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('lines'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    lines: z.array(logLineSchema).min(1).max(10_000),
  })
  .strict()
  .meta({ id: 'LogLinesMessage' });
export type LogLinesMessage = z.infer<typeof logLinesMessageSchema>;

export const logEndMessageSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('end'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    /** Lines of the attempt: seq 0 to `lines - 1`. */
    lines: z.number().int().min(0),
    at: timestampSchema,
  })
  .strict()
  .meta({ id: 'LogEndMessage' });
export type LogEndMessage = z.infer<typeof logEndMessageSchema>;

export const logLiveMessageSchema = z.discriminatedUnion('type', [logLinesMessageSchema, logEndMessageSchema]);
export type LogLiveMessage = z.infer<typeof logLiveMessageSchema>;
