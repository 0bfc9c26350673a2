import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';

/** What the trainer process saw of its environment, reported by the trainer itself through the SDK. */
export const runtimeInfoSchema = z
  .object({
    cudaVisibleDevices: z.string(),
    worldSize: z.number().int().min(1),
    hostname: z.string().max(256),
    pid: z.number().int().min(0),
  })
  .strict()
  .meta({ id: 'RuntimeInfo' });
export type RuntimeInfo = z.infer<typeof runtimeInfoSchema>;

/** Whose failure it was (see `StatusEvent.failureKind`). */
/** `environment`: the job's per-job Python environment could not be built (pip failed); not retried. */
export const failureKindSchema = z.enum(['trainer', 'preflight', 'infrastructure', 'oom', 'environment']);
export type FailureKind = z.infer<typeof failureKindSchema>;

/** Lifecycle transitions reported by a worker for one attempt of a job. */
export const statusEventSchema = z
  .object({
    v: schemaVersionSchema,
    type: z.literal('status'),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    state: z.enum(['starting', 'running', 'succeeded', 'failed', 'cancelled', 'preempted']),
    at: timestampSchema,
    exitCode: z.number().int().optional(),
    /** Why the attempt ended, in words a person can act on. */
    reason: z.string().max(4096).optional(),
    /** Last lines of the trainer's log, for failures. */
    logTail: z.array(z.string().max(4096)).max(200).optional(),
    runtime: runtimeInfoSchema.optional(),
    /**
     * Whose failure it was, which decides what the scheduler does next: `trainer` (non-zero exit:
     * retried while restarts remain), `preflight` (the job cannot run as specified: failed at
     * once, no retries), `infrastructure` (the platform's fault: requeued, no restart spent), `oom`
     * (out of memory: retried with half the per-device batch and twice the accumulation, global
     * batch and learning rate kept, no restart spent, down to a per-device batch of 1).
     */
    failureKind: failureKindSchema.optional(),
  })
  .strict()
  .meta({ id: 'StatusEvent' });
export type StatusEvent = z.infer<typeof statusEventSchema>;
