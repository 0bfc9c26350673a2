import { JobRecord, JobState, SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { OutboxEntry } from './job.repository';

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
  const { workerId: _w, gpuIndices: _g, cudaVisibleDevices: _c, runtime: _r, ...rest } = job;
  return rest as JobRecord;
}
