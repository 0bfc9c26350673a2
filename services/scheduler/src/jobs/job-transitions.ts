import { AttemptSummary, FailureKind, JobRecord, JobState, ResolvedHyperparameters, SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { leaseToken } from '../workers/worker.model';
import { CommitOptions, OutboxEntry } from './job.repository';

/** Attempt summaries kept on a record (the newest). */
const MAX_ATTEMPT_SUMMARIES = 100;

export function nowIso(): string {
  return new Date().toISOString();
}

/** The job after a state change, with the change appended to its history. */
export function transition(
  job: JobRecord,
  state: JobState,
  patch: Partial<JobRecord> = {},
  reason?: string,
  at = nowIso(),
): JobRecord {
  const attempt = patch.attempt ?? job.attempt;
  return {
    ...job,
    ...patch,
    state,
    updatedAt: at,
    history: [...job.history, { state, attempt, at, ...(reason ? { reason } : {}) }],
  };
}

/** The state event that follows a stored transition, as an outbox entry. */
export function stateEventEntry(job: JobRecord, from: JobState | undefined): OutboxEntry {
  const last = job.history[job.history.length - 1];
  return {
    msgId: `${job.id}:state:${job.history.length}`,
    subject: SUBJECTS.jobState(job.id),
    payload: {
      v: SCHEMA_VERSION,
      type: 'state',
      jobId: job.id,
      attempt: job.attempt,
      state: job.state,
      ...(from ? { from } : {}),
      at: last?.at ?? job.updatedAt,
      ...(last?.reason ? { reason: last.reason } : {}),
      ...(job.workerId ? { workerId: job.workerId } : {}),
    },
  };
}

/** Fields that belong to one attempt's placement, cleared when the job goes back to the queue. */
export function clearPlacement(job: JobRecord): JobRecord {
  const { workerId: _w, gpuIndices: _g, cudaVisibleDevices: _c, runtime: _r, nodes: _n, rendezvous: _z, ...rest } = job;
  return rest as JobRecord;
}

/** The workers an attempt occupies: every node's of a multi-node attempt (node 0 first), else its one. */
export function workersOf(job: JobRecord): string[] {
  if (job.nodes?.length) return job.nodes.map((node) => node.workerId);
  return job.workerId ? [job.workerId] : [];
}

/** The release of every GPU lease the job's current attempt holds, on all its nodes. */
export function releaseOf(job: JobRecord, fallbackWorkerId = '_none'): CommitOptions['lease'] {
  return {
    op: 'release',
    workerId: job.workerId ?? fallbackWorkerId,
    token: leaseToken(job.id, job.attempt),
    ...(job.nodes?.length ? { nodes: job.nodes.map((node) => ({ workerId: node.workerId, gpuIndices: [] })) } : {}),
  };
}

/** The job with a new attempt summary: where the attempt was placed and its batch split. */
export function startAttempt(job: JobRecord, workerId: string, worldSize: number, resolved?: ResolvedHyperparameters, at = nowIso()): JobRecord {
  const summary: AttemptSummary = {
    attempt: job.attempt,
    workerId,
    worldSize,
    ...(job.nodes?.length ? { nodeWorkerIds: job.nodes.map((node) => node.workerId) } : {}),
    ...(resolved ? { perDeviceBatch: resolved.perDeviceBatch, gradAccumSteps: resolved.gradAccumSteps } : {}),
    assignedAt: at,
  };
  const earlier = (job.attempts ?? []).filter((a) => a.attempt !== job.attempt);
  return { ...job, attempts: [...earlier, summary].slice(-MAX_ATTEMPT_SUMMARIES) };
}

/** The job with its current attempt's summary closed: how it ended and, for failures, whose. */
export function endAttempt(job: JobRecord, outcome: JobState, failureKind?: FailureKind, reason?: string): JobRecord {
  if (!job.attempts?.length) return job;
  return {
    ...job,
    attempts: job.attempts.map((a) =>
      a.attempt === job.attempt && a.outcome === undefined
        ? { ...a, outcome, ...(failureKind ? { failureKind } : {}), ...(reason ? { reason: reason.slice(0, 4096) } : {}) }
        : a,
    ),
  };
}
