import { z } from 'zod';
import { alertEventSchema } from './alert-event.schema';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, timestampSchema } from './common.schema';
import { jobSpecSchema } from './job-spec.schema';
import { jobStateSchema } from './job-state.schema';
import { progressEventSchema } from './progress-event.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';
import { runtimeInfoSchema } from './status-event.schema';

export const jobTransitionSchema = z
  .object({
    state: jobStateSchema,
    attempt: z.number().int().min(1),
    at: timestampSchema,
    reason: z.string().max(4096).optional(),
  })
  .strict();

/** A job as the platform holds it: the spec plus everything the platform decided and observed. */
export const jobRecordSchema = z
  .object({
    id: identifierSchema,
    /** The API user who submitted it (for internal jobs: the user whose evaluation or import it serves). */
    owner: userNameSchema.optional(),
    spec: jobSpecSchema,
    state: jobStateSchema,
    attempt: z.number().int().min(1),
    /** Restarts spent on trainer failures (infrastructure failures and preemption spend none). */
    restarts: z.number().int().min(0),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    startedAt: timestampSchema.optional(),
    finishedAt: timestampSchema.optional(),
    workerId: identifierSchema.optional(),
    gpuIndices: z.array(z.number().int().min(0)).optional(),
    cudaVisibleDevices: z.string().optional(),
    resolved: resolvedHyperparametersSchema.optional(),
    runtime: runtimeInfoSchema.optional(),
    lastProgress: progressEventSchema.optional(),
    exitCode: z.number().int().optional(),
    reason: z.string().max(4096).optional(),
    logTail: z.array(z.string()).optional(),
    /** Why a queued job waits, in words a person can act on. */
    pendingReason: z.string().optional(),
    /** 1-based position among queued jobs (priority, then age). */
    queuePosition: z.number().int().min(1).optional(),
    history: z.array(jobTransitionSchema),
    /** A stop was asked for; the job ends in `stopAs` once its processes are gone. */
    cancelRequested: z.boolean().optional(),
    /** How a requested stop ends: `cancelled` (a person asked) or `failed` (for example NaN loss with fail-fast). */
    stopAs: z.enum(['cancelled', 'failed']).optional(),
    stopReason: z.string().max(4096).optional(),
    /** Training-health alerts of the current attempt and earlier ones, latest event of each (metrics service). */
    alerts: z.array(alertEventSchema).optional(),
  })
  .strict()
  .meta({ id: 'JobRecord' });
export type JobRecord = z.infer<typeof jobRecordSchema>;
