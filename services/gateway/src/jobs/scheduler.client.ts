import { Inject, Injectable } from '@nestjs/common';
import { JobPage, JobRecord, JobSpecInput, ListJobsRequest, SERVICE_RPCS, WorkerView } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The scheduler's request/reply API, seen from the gateway. */
@Injectable()
export class SchedulerClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  submit(spec: JobSpecInput | unknown, owner: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.submitJob, { spec, owner });
  }

  get(id: string): Promise<JobRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id });
  }

  list(request: ListJobsRequest): Promise<JobPage> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.listJobs, request);
  }

  cancel(id: string, graceSeconds: number): Promise<JobRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.cancelJob, { id, graceSeconds });
  }

  workers(): Promise<WorkerView[]> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.listWorkers, {});
  }
}
