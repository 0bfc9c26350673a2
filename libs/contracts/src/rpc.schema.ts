import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema } from './common.schema';
import { jobRecordSchema } from './job-record.schema';
import { pageCursorSchema } from './page.schema';
import { jobStateSchema } from './job-state.schema';

/** Error codes shared by every request/reply handler; the gateway maps each to one HTTP status once. */
export const rpcErrorCodeSchema = z.enum([
  'invalid_request',
  'not_found',
  'unschedulable',
  'conflict',
  'unavailable',
  'internal',
]);
export type RpcErrorCode = z.infer<typeof rpcErrorCodeSchema>;

export const rpcIssueSchema = z.object({ path: z.string(), message: z.string() }).strict();
export type RpcIssue = z.infer<typeof rpcIssueSchema>;

export const rpcErrorSchema = z
  .object({
    code: rpcErrorCodeSchema,
    message: z.string(),
    issues: z.array(rpcIssueSchema).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type RpcError = z.infer<typeof rpcErrorSchema>;

/** Every reply is either `{ ok: true, data }` or `{ ok: false, error }`. */
export function rpcReplySchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data }).strict(),
    z.object({ ok: z.literal(false), error: rpcErrorSchema }).strict(),
  ]);
}

/** The submitted spec is validated by the scheduler too, so it travels unparsed; `owner` is the API user it is recorded for. */
export const submitJobRequestSchema = z.object({ spec: z.unknown(), owner: userNameSchema.optional() }).strict();
export const jobIdRequestSchema = z.object({ id: identifierSchema }).strict();
/** Newest first, one page at a time; `owner` keeps one user's jobs only. */
export const listJobsRequestSchema = z
  .object({
    state: jobStateSchema.optional(),
    /** Any of these states (the queue view asks for queued and active jobs at once). */
    states: z.array(jobStateSchema).min(1).max(8).optional(),
    owner: userNameSchema.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: pageCursorSchema.optional(),
  })
  .strict();
export type ListJobsRequest = z.infer<typeof listJobsRequestSchema>;

/** A page of jobs; `nextCursor` while older ones follow. */
export const jobPageSchema = z.object({ jobs: z.array(jobRecordSchema), nextCursor: pageCursorSchema.optional() }).strict().meta({ id: 'JobPage' });
export type JobPage = z.infer<typeof jobPageSchema>;

export const cancelJobRequestSchema = z
  .object({
    id: identifierSchema,
    /** Seconds the trainer gets to checkpoint after SIGTERM before SIGKILL. */
    graceSeconds: z.number().min(0).max(3600).default(30),
  })
  .strict();

/** Stop a job and end it `failed` with a reason (used by training-health alerts with fail-fast). */
export const failJobRequestSchema = z
  .object({
    id: identifierSchema,
    reason: z.string().min(1).max(4096),
    graceSeconds: z.number().min(0).max(3600).default(30),
  })
  .strict();
