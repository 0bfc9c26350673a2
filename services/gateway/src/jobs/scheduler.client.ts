import { Inject, Injectable } from '@nestjs/common';
import { JobPage, jobPageSchema, JobRecord, jobRecordSchema, JobSpecInput, ListJobsRequest, RPC, workerViewSchema, WorkerView } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { z } from 'zod';

/** The scheduler's request/reply API, seen from the gateway. */
@Injectable()
export class SchedulerClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  submit(spec: JobSpecInput | unknown, owner: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.submitJob, { spec, owner }, jobRecordSchema);
  }

  get(id: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.getJob, { id }, jobRecordSchema);
  }

  list(request: ListJobsRequest): Promise<JobPage> {
    return requestRpc(this.nats.nc, RPC.listJobs, request, jobPageSchema);
  }

  cancel(id: string, graceSeconds: number): Promise<JobRecord> {
    return requestRpc(this.nats.nc, RPC.cancelJob, { id, graceSeconds }, jobRecordSchema);
  }

  workers(): Promise<WorkerView[]> {
    return requestRpc(this.nats.nc, RPC.listWorkers, {}, z.array(workerViewSchema));
  }
}
