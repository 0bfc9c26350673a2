import { Inject, Injectable } from '@nestjs/common';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { JobRepository } from '../jobs/job.repository';
import { WorkerState } from '../workers/worker.model';
import { WorkerRepository } from '../workers/worker.repository';
import { Candidate } from './placement';

/** Live workers with their leases and load: what placement decides on. */
@Injectable()
export class InventoryService {
  constructor(
    private readonly workers: WorkerRepository,
    private readonly jobs: JobRepository,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  liveWorkers(): Promise<WorkerState[]> {
    return this.workers.live(Date.now(), this.config.HOUNSFIELD_WORKER_TTL_SECONDS * 1000);
  }

  async candidates(): Promise<Candidate[]> {
    const live = await this.liveWorkers();
    const active = await this.jobs.getMany(await this.jobs.activeIds());
    return Promise.all(
      live.map(async (worker) => ({
        worker,
        leases: await this.jobs.leases(worker.heartbeat.workerId),
        activeJobs: active.filter((j) => j.workerId === worker.heartbeat.workerId).length,
      })),
    );
  }
}
