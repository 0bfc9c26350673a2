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
    const [active, leases] = await Promise.all([
      this.jobs.getMany(await this.jobs.activeIds()),
      this.jobs.leasesOf(live.map((w) => w.heartbeat.workerId)),
    ]);
    const load = new Map<string, number>();
    for (const job of active) if (job.workerId) load.set(job.workerId, (load.get(job.workerId) ?? 0) + 1);
    return live.map((worker, i) => ({ worker, leases: leases[i], activeJobs: load.get(worker.heartbeat.workerId) ?? 0 }));
  }
}
