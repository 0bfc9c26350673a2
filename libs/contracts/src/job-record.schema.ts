import { z } from 'zod';
import { alertEventSchema } from './alert-event.schema';
import { userNameSchema } from './api-principal.schema';
import { identifierSchema, timestampSchema } from './common.schema';
import { jobSpecSchema } from './job-spec.schema';
import { jobEnvironmentStatusSchema } from './code.schema';
import { jobNoticeEventSchema } from './job-notice-event.schema';
import { jobStateSchema } from './job-state.schema';
import { progressEventSchema } from './progress-event.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';
import { failureKindSchema, runtimeInfoSchema } from './status-event.schema';

export const jobTransitionSchema = z
  .object({
    state: jobStateSchema,
    attempt: z.number().int().min(1),
    at: timestampSchema,
    reason: z.string().max(4096).optional(),
    failureKind: failureKindSchema.optional(),
  })
  .strict();

/** One node of a multi-node attempt: the worker and GPUs it holds, by node rank. */
export const jobNodeSchema = z
  .object({
    nodeRank: z.number().int().min(0),
    workerId: identifierSchema,
    gpuIndices: z.array(z.number().int().min(0)),
    cudaVisibleDevices: z.string(),
    /** Global ranks of this node's processes (nodeRank × processes per node onwards). */
    ranks: z.array(z.number().int().min(0)),
  })
  .strict()
  .meta({ id: 'JobNode' });
export type JobNode = z.infer<typeof jobNodeSchema>;

/** Where a multi-node attempt's nodes meet: torchrun's c10d rendezvous on node 0's worker. */
export const jobRendezvousSchema = z
  .object({ host: z.string().min(1).max(255), port: z.number().int().min(1).max(65535), id: z.string().min(1).max(200) })
  .strict()
  .meta({ id: 'JobRendezvous' });
export type JobRendezvous = z.infer<typeof jobRendezvousSchema>;

/** One attempt of a job: where it ran, with which batch split, and how it ended. */
export const attemptSummarySchema = z
  .object({
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    worldSize: z.number().int().min(1),
    /** Multi-node attempts: the workers of nodes 0, 1, … (`workerId` is node 0's). */
    nodeWorkerIds: z.array(identifierSchema).optional(),
    /** The batch split of a training (internal tasks train nothing and have none). */
    perDeviceBatch: z.number().int().min(1).optional(),
    gradAccumSteps: z.number().int().min(1).optional(),
    assignedAt: timestampSchema,
    /** The state the attempt ended in (absent while it runs). */
    outcome: jobStateSchema.optional(),
    failureKind: failureKindSchema.optional(),
    reason: z.string().max(4096).optional(),
  })
  .strict()
  .meta({ id: 'AttemptSummary' });
export type AttemptSummary = z.infer<typeof attemptSummarySchema>;

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
    /**
     * A multi-node attempt's nodes by rank (`workerId`, `gpuIndices` and `cudaVisibleDevices` above
     * are node 0's, which hosts the rendezvous).
     */
    nodes: z.array(jobNodeSchema).optional(),
    rendezvous: jobRendezvousSchema.optional(),
    resolved: resolvedHyperparametersSchema.optional(),
    runtime: runtimeInfoSchema.optional(),
    lastProgress: progressEventSchema.optional(),
    exitCode: z.number().int().optional(),
    reason: z.string().max(4096).optional(),
    logTail: z.array(z.string()).optional(),
    /** A GPU job's environment phase: built before any GPU is leased (see JobEnvironmentStatus). */
    environment: jobEnvironmentStatusSchema.optional(),
    /** Environment builds that failed by a worker's fault or were lost with their worker (the job fails at 5). */
    environmentBuildFailures: z.number().int().min(0).optional(),
    /** Why a queued job waits, in words a person can act on. */
    pendingReason: z.string().optional(),
    /** 1-based position among queued jobs (priority, then age). */
    queuePosition: z.number().int().min(1).optional(),
    history: z.array(jobTransitionSchema),
    /** Every attempt placed so far, oldest first, with its batch split and outcome. */
    attempts: z.array(attemptSummarySchema).optional(),
    /**
     * Upper bound on the per-device batch learned from out-of-memory failures: each `oom` attempt
     * halves it, and the batch is resolved under it (more accumulation, same global batch and LR).
     */
    perDeviceBatchCap: z.number().int().min(1).optional(),
    /** A stop was asked for; the job ends in `stopAs` once its processes are gone. */
    cancelRequested: z.boolean().optional(),
    /** How a requested stop ends: `cancelled` (a person asked) or `failed` (for example NaN loss with fail-fast). */
    stopAs: z.enum(['cancelled', 'failed']).optional(),
    stopReason: z.string().max(4096).optional(),
    /** The latest notices of the job's attempts (at most 50, oldest first). */
    notices: z.array(jobNoticeEventSchema).optional(),
    /** Training-health alerts of the current attempt and earlier ones, latest event of each (metrics service). */
    alerts: z.array(alertEventSchema).optional(),
  })
  .strict()
  .meta({ id: 'JobRecord' });
export type JobRecord = z.infer<typeof jobRecordSchema>;
