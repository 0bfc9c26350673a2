import { Inject, Injectable } from '@nestjs/common';
import { JobRecord, jobRecordSchema, JobSpecInput, JobState, RPC, workerViewSchema, WorkerView } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { z } from 'zod';

/** The scheduler's request/reply API, seen from the gateway. */
@Injectable()
export class SchedulerClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  submit(spec: JobSpecInput | unknown): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.submitJob, { spec }, jobRecordSchema);
  }

  get(id: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.getJob, { id }, jobRecordSchema);
  }

  list(state: JobState | undefined, limit: number): Promise<JobRecord[]> {
    return requestRpc(this.nats.nc, RPC.listJobs, { ...(state ? { state } : {}), limit }, z.array(jobRecordSchema));
  }

  cancel(id: string, graceSeconds: number): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.cancelJob, { id, graceSeconds }, jobRecordSchema);
  }

  workers(): Promise<WorkerView[]> {
    return requestRpc(this.nats.nc, RPC.listWorkers, {}, z.array(workerViewSchema));
  }
}
