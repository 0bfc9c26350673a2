import { isTrainingSpec, JobRecord, JobSpec, MonitoringPolicy, ResolvedHyperparameters } from '@hounsfield/contracts';

/** What the metrics service needs to know about a job beyond its events, from the scheduler's record. */
export interface JobContext {
  jobId: string;
  /** The attempt the record described when it was read. */
  attempt: number;
  name: string;
  kind: JobSpec['kind'] | 'unknown';
  monitoring: MonitoringPolicy;
  resolved?: ResolvedHyperparameters;
  workerId?: string;
  gpuIndices: number[];
  /** False when the scheduler does not know the job (deleted, or events of a foreign stack). */
  known: boolean;
}

export function contextFromRecord(job: JobRecord): JobContext {
  return {
    jobId: job.id,
    attempt: job.attempt,
    name: job.spec.name,
    kind: job.spec.kind,
    monitoring: isTrainingSpec(job.spec) ? job.spec.monitoring : { failOnNonFiniteLoss: false },
    resolved: job.resolved,
    workerId: job.workerId,
    gpuIndices: job.gpuIndices ?? [],
    known: true,
  };
}

/** Defaults for a job the scheduler does not know: its events are still ingested and watched. */
export function unknownJobContext(jobId: string, attempt: number): JobContext {
  return { jobId, attempt, name: jobId, kind: 'unknown', monitoring: { failOnNonFiniteLoss: false }, gpuIndices: [], known: false };
}
