import { Inject, Injectable } from '@nestjs/common';
import {
  CheckpointRecord,
  checkpointRecordSchema,
  JobRecord,
  jobRecordSchema,
  JobSpecInput,
  RPC,
  SCHEMA_VERSION,
} from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The scheduler's request/reply API, as the evaluation service uses it (shard jobs, training jobs' configs). */
@Injectable()
export class SchedulerClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  submit(spec: JobSpecInput): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.submitJob, { spec }, jobRecordSchema);
  }

  get(id: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.getJob, { id }, jobRecordSchema);
  }
}

/** The checkpoints service's resolve, to pin the evaluated checkpoints at submission. */
@Injectable()
export class CheckpointsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  resolve(jobId: string, ref: string, pinSeconds: number): Promise<CheckpointRecord> {
    return requestRpc(this.nats.nc, RPC.checkpointsResolve, { v: SCHEMA_VERSION, jobId, ref, pinSeconds }, checkpointRecordSchema);
  }
}
