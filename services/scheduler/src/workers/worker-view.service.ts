import { Inject, Injectable } from '@nestjs/common';
import { WorkerView } from '@hounsfield/contracts';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { JobRepository } from '../jobs/job.repository';
import { workersOf } from '../jobs/job-transitions';
import { parseLeaseToken } from './worker.model';
import { WorkerRepository } from './worker.repository';

/** Live workers with each GPU's lease holder, for `GET /v1/workers`. */
@Injectable()
export class WorkerViewService {
  constructor(
    private readonly workers: WorkerRepository,
    private readonly jobs: JobRepository,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  async list(): Promise<WorkerView[]> {
    const live = await this.workers.live(Date.now(), this.config.HOUNSFIELD_WORKER_TTL_SECONDS * 1000);
    const active = await this.jobs.getMany(await this.jobs.activeIds());
    return Promise.all(
      live.map(async ({ heartbeat, lastSeenMs }) => {
        const leases = await this.jobs.leases(heartbeat.workerId);
        return {
          workerId: heartbeat.workerId,
          hostname: heartbeat.hostname,
          simulated: heartbeat.simulated,
          lastSeenAt: new Date(lastSeenMs).toISOString(),
          gpus: heartbeat.gpus.map((gpu) => {
            const token = leases.get(gpu.index);
            return token ? { ...gpu, leasedBy: parseLeaseToken(token).jobId } : gpu;
          }),
          kinds: heartbeat.kinds,
          activeJobs: active.filter((j) => workersOf(j).includes(heartbeat.workerId)).map((j) => j.id),
          ...(heartbeat.address ? { address: heartbeat.address } : {}),
          ...(heartbeat.topology ? { topology: heartbeat.topology } : {}),
        };
      }),
    );
  }
}
