import { Inject, Injectable } from '@nestjs/common';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { JobRepository } from '../jobs/job.repository';
import { workersOf } from '../jobs/job-transitions';
import { WorkerState } from '../workers/worker.model';
import { WorkerRepository } from '../workers/worker.repository';
import { Candidate, cpuSlotsOf, ENVIRONMENT_BUILD_CPU_SLOTS } from './placement';

/** Job states that hold capacity on their worker. */
const PLACED = new Set(['assigned', 'starting', 'running']);

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

  private forView?: { at: number; candidates: Promise<Candidate[]> };

  /**
   * The inventory for explanations (pending reasons), shared for a fraction of a second so that a
   * burst of submissions or reads does not read every worker once per request. Placement always
   * reads fresh. Callers must not change what they get.
   */
  candidatesForView(maxAgeMs = 250): Promise<Candidate[]> {
    const now = Date.now();
    if (!this.forView || now - this.forView.at > maxAgeMs) {
      const candidates = this.candidates();
      this.forView = { at: now, candidates };
      candidates.catch(() => {
        if (this.forView?.candidates === candidates) this.forView = undefined;
      });
    }
    return this.forView.candidates;
  }

  async candidates(): Promise<Candidate[]> {
    const live = await this.liveWorkers();
    const [byJob, leases] = await Promise.all([this.jobs.activeWorkersOf(), this.jobs.leasesOf(live.map((w) => w.heartbeat.workerId))]);
    const load = new Map<string, number>();
    for (const workerIds of byJob.values()) for (const workerId of workerIds) load.set(workerId, (load.get(workerId) ?? 0) + 1);
    // CPU slots in use: the CPU jobs placed on each worker that advertises slots (every node of a
    // multi-node job), and the rendezvous ports of the multi-node attempts each worker hosts.
    const slotted = new Set(live.filter((w) => w.heartbeat.cpuSlots !== undefined || w.heartbeat.rendezvousPorts !== undefined).map((w) => w.heartbeat.workerId));
    const placedThere = [...byJob].filter(([, workerIds]) => workerIds.some((id) => slotted.has(id))).map(([jobId]) => jobId);
    const cpuUsed = new Map<string, number>();
    const ports = new Map<string, Set<number>>();
    for (const job of placedThere.length ? await this.jobs.getMany(placedThere) : []) {
      if (PLACED.has(job.state)) {
        for (const workerId of workersOf(job)) cpuUsed.set(workerId, (cpuUsed.get(workerId) ?? 0) + cpuSlotsOf(job.spec));
        if (job.rendezvous && job.workerId) ports.set(job.workerId, (ports.get(job.workerId) ?? new Set<number>()).add(job.rendezvous.port));
      }
      // A queued job building its environment (its environment phase) holds one CPU slot there.
      const builder = job.state === 'queued' && job.environment?.state === 'building' ? job.environment.workerId : undefined;
      if (builder) cpuUsed.set(builder, (cpuUsed.get(builder) ?? 0) + ENVIRONMENT_BUILD_CPU_SLOTS);
    }
    return live.map((worker, i) => {
      const id = worker.heartbeat.workerId;
      return { worker, leases: leases[i], activeJobs: load.get(id) ?? 0, cpuSlotsUsed: cpuUsed.get(id) ?? 0, rendezvousPortsInUse: ports.get(id) ?? new Set() };
    });
  }
}
