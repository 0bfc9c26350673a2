import { Inject, Injectable } from '@nestjs/common';
import { CheckpointEvaluationUpdate, CheckpointRecord, JobRecord, JobSpecInput, SCHEMA_VERSION, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The scheduler's request/reply API, as the evaluation service uses it (shard jobs, training jobs' configs). */
@Injectable()
export class SchedulerClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** Submits a job recorded for `owner` (the user whose evaluation it serves). */
  submit(spec: JobSpecInput, owner?: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.submitJob, { spec, ...(owner !== undefined ? { owner } : {}) });
  }

  get(id: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id });
  }
}

/** The checkpoints service: resolve (pinning the evaluated checkpoints at submission) and auto-evaluation verdicts. */
@Injectable()
export class CheckpointsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  resolve(jobId: string, ref: string, pinSeconds: number): Promise<CheckpointRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsResolve, { v: SCHEMA_VERSION, jobId, ref, pinSeconds });
  }

  /** An auto-evaluation's verdict on the checkpoint it evaluates (metrics, skipped, failed). */
  reportEvaluation(update: Omit<CheckpointEvaluationUpdate, 'v'>): Promise<CheckpointRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsEvaluation, { v: SCHEMA_VERSION, ...update });
  }
}
