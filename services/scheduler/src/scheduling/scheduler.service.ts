import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { JobRecord, SCHEMA_VERSION } from '@hounsfield/contracts';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { WorkerEvents } from '../jobs/worker-events.service';
import { WorkerStopClient } from '../jobs/worker-stop.client';
import { JobRepository } from '../jobs/job.repository';
import { nowIso, workersOf } from '../jobs/job-transitions';
import { leaseToken } from '../workers/worker.model';
import { WorkerRepository } from '../workers/worker.repository';
import { OutboxPublisher } from './outbox.publisher';
import { InventoryService } from './inventory.service';
import {
  awaitingEnvironment,
  Candidate,
  cpuSlotsOf,
  ENVIRONMENT_BUILD_CPU_SLOTS,
  largestFreeBlock,
  placeEnvironmentBuild,
  placeJobPreferring,
  reservationsFor,
} from './placement';
import { JobAssigner } from './job-assigner';

import { SchedulingTrigger } from './scheduling.trigger';

/** Queued job ids read per round trip in a scheduling pass. */
const PAGE = 200;
/** GPU jobs at the front of the line looked at for a reservation in each pass. */
const RESERVE_LOOKAHEAD = 8;
/** Job records read per round trip when a queue head comes up. */
const RECORDS_AHEAD = 32;

/**
 * Places queued jobs on live workers and repairs what a crash or a lost worker left behind.
 * Passes run one at a time; a kick during a pass schedules exactly one more.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SchedulerService.name);
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private passQueued = false;
  private stopped = false;
  /** Liveness read before this process listened says nothing about the workers (see below). */
  private readonly startedAt = Date.now();

  constructor(
    private readonly jobs: JobRepository,
    private readonly workers: WorkerRepository,
    private readonly workerEvents: WorkerEvents,
    private readonly workerStop: WorkerStopClient,
    private readonly outbox: OutboxPublisher,
    private readonly inventory: InventoryService,
    private readonly assigner: JobAssigner,
    trigger: SchedulingTrigger,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {
    trigger.onKick(() => this.requestPass());
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.enqueue(() => this.reconcile()), this.config.HOUNSFIELD_RECONCILE_INTERVAL_MS);
    this.enqueue(() => this.reconcile());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      try {
        await work();
      } catch (error) {
        this.logger.error(`scheduler pass failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
    });
    return this.chain;
  }

  private requestPass(): void {
    if (this.passQueued) return;
    this.passQueued = true;
    void this.enqueue(async () => {
      this.passQueued = false;
      await this.schedulePass();
    });
  }

  /** Outbox first (messages owed from before a crash), then lost workers and attempts, stuck assignments, the queue. */
  async reconcile(): Promise<void> {
    await this.outbox.flush();
    await this.requeueJobsOfDeadWorkers();
    await this.requeueAttemptsWorkersLost();
    await this.withdrawStuckAssignments();
    await this.withdrawLostEnvironmentBuilds();
    await this.schedulePass();
  }

  /**
   * An environment build whose worker is no longer live, or whose worker's heartbeats have stopped
   * listing it (an agent restart loses the build), goes back to the queue to be placed again
   * (HOUNSFIELD_ASSIGN_TIMEOUT_SECONDS after it was placed, so a build not yet started is not taken
   * for a lost one). A build that ends reports an `environment` event instead.
   */
  private async withdrawLostEnvironmentBuilds(): Promise<void> {
    const active = await this.jobs.getMany(await this.jobs.activeIds());
    const building = active.filter((job) => job.state === 'queued' && job.environment?.state === 'building');
    if (building.length === 0) return;
    const live = new Map((await this.inventory.liveWorkers()).map((w) => [w.heartbeat.workerId, w]));
    const graceMs = this.config.HOUNSFIELD_ASSIGN_TIMEOUT_SECONDS * 1000;
    for (const job of building) {
      const environment = job.environment;
      if (!environment) continue;
      const worker = live.get(environment.workerId);
      const placedAt = Date.parse(environment.requestedAt);
      const lost = !worker
        ? `worker ${environment.workerId} is gone`
        : Date.now() - placedAt > graceMs && Date.parse(worker.heartbeat.at) > placedAt + graceMs && !(worker.heartbeat.environmentBuilds ?? []).includes(job.id)
          ? `worker ${environment.workerId} no longer builds it`
          : undefined;
      if (!lost) continue;
      await this.workerEvents.requeueEnvironment(job, `its environment build was lost (${lost}); it is placed again`);
    }
  }

  /** When each suspect attempt (`job:attempt`) was first seen missing from its worker's heartbeats. */
  private readonly missingSince = new Map<string, number>();

  /**
   * A live worker lists the attempts it runs in every heartbeat. A starting or running attempt it
   * has stopped listing for HOUNSFIELD_LOST_ATTEMPT_SECONDS (and three heartbeats) is gone from
   * it: an agent that restarted lost its trainers, and nothing else would ever report their end.
   * The job is requeued without spending a restart. The wait covers an attempt that just ended
   * and whose final status is still on its way.
   */
  private async requeueAttemptsWorkersLost(): Promise<void> {
    const live = new Map((await this.inventory.liveWorkers()).map((w) => [w.heartbeat.workerId, w.heartbeat]));
    const suspects = new Set<string>();
    for (const [jobId, workerIds] of await this.jobs.activeWorkersOf()) {
      for (const workerId of workerIds) {
        const heartbeat = live.get(workerId);
        if (heartbeat && !heartbeat.running.some((r) => r.jobId === jobId)) suspects.add(jobId);
      }
    }
    const now = Date.now();
    const seen = new Set<string>();
    for (const job of await this.jobs.getMany([...suspects])) {
      if (job.state !== 'starting' && job.state !== 'running') continue;
      // Every node of a multi-node attempt lists it; one that stopped listing it lost its part.
      for (const workerId of workersOf(job)) {
        const heartbeat = live.get(workerId);
        if (!heartbeat || heartbeat.running.some((r) => r.jobId === job.id && r.attempt === job.attempt)) continue;
        // Only a heartbeat sent after the attempt last changed state says anything about it.
        if (Date.parse(heartbeat.at) <= Date.parse(job.history[job.history.length - 1].at)) continue;
        const key = `${job.id}:${job.attempt}:${workerId}`;
        seen.add(key);
        const since = this.missingSince.get(key) ?? now;
        this.missingSince.set(key, since);
        const waitMs = Math.max(this.config.HOUNSFIELD_LOST_ATTEMPT_SECONDS * 1000, 3 * heartbeat.intervalSeconds * 1000);
        if (now - since < waitMs) continue;
        const reason = `worker ${workerId} no longer runs attempt ${job.attempt} (not in its heartbeats for ${Math.round((now - since) / 1000)} s; its agent restarted?); requeued without spending a restart`;
        if (await this.workerEvents.requeue(job, reason, false, {}, 'failed', 'infrastructure')) this.logger.warn(`job ${job.id}: ${reason}`);
        break;
      }
    }
    for (const key of this.missingSince.keys()) if (!seen.has(key)) this.missingSince.delete(key);
  }

  /** Attempts (`job:attempt`) whose job already shows the "worker lost, waiting" notice. */
  private readonly lostNoticed = new Set<string>();

  /**
   * A worker silent for the TTL is out of the pool (placement reads live workers only). Its
   * attempts stay assigned for the reconnect window, counted from its last heartbeat, with a notice
   * on each job: an agent that comes back in time re-adopts its trainers (it asks
   * `attemptCurrent`). Past the window the jobs are requeued without spending a restart, and a
   * returning agent is told its attempts are no longer current.
   */
  private async requeueJobsOfDeadWorkers(): Promise<void> {
    const ttlMs = this.config.HOUNSFIELD_WORKER_TTL_SECONDS * 1000;
    const windowMs = Math.max(this.config.HOUNSFIELD_WORKER_RECONNECT_SECONDS * 1000, ttlMs);
    // A worker is dead only after a TTL of silence while this scheduler was listening: after a
    // restart, the heartbeats sent while it was down are still waiting in the stream.
    if (Date.now() - this.startedAt < ttlMs) return;
    const now = Date.now();
    const dead = await this.workers.expired(now, ttlMs);
    const waiting = new Set<string>();
    if (dead.length > 0) {
      const active = await this.jobs.getMany(await this.jobs.activeIds());
      for (const workerId of dead) {
        const silentMs = now - ((await this.workers.get(workerId))?.lastSeenMs ?? 0);
        const jobs = active.filter((j) => workersOf(j).includes(workerId));
        if (jobs.length > 0 && silentMs < windowMs) {
          for (const job of jobs) waiting.add(await this.noticeWorkerLost(job, workerId, Math.ceil((windowMs - silentMs) / 1000)));
          continue;
        }
        for (const job of jobs) {
          const node = job.nodes?.find((n) => n.workerId === workerId);
          const reason = `worker ${workerId}${node ? ` (node ${node.nodeRank} of ${job.nodes?.length})` : ''} stopped sending heartbeats and did not come back within ${windowMs / 1000} s (infrastructure failure; no restart spent)`;
          await this.workerEvents.requeue(job, reason, false, {}, 'failed', 'infrastructure');
        }
        await this.workers.remove(workerId);
        await this.jobs.deleteLeases(workerId);
        this.logger.warn(`worker ${workerId} is dead: no heartbeat for ${Math.round(silentMs / 1000)} s`);
      }
    }
    for (const key of this.lostNoticed) if (!waiting.has(key)) this.lostNoticed.delete(key);
  }

  /** Shows once on the job that its worker is lost and how long the scheduler waits for it. */
  private async noticeWorkerLost(job: JobRecord, workerId: string, leftSeconds: number): Promise<string> {
    const key = `${job.id}:${job.attempt}`;
    if (this.lostNoticed.has(key)) return key;
    this.lostNoticed.add(key);
    const message = `worker ${workerId} lost, waiting ${leftSeconds} s for it to come back (its trainer may still run; past that the job is requeued)`;
    this.logger.warn(`job ${job.id}: ${message}`);
    await this.jobs.saveNotice({ v: SCHEMA_VERSION, type: 'notice', jobId: job.id, attempt: job.attempt, workerId, kind: 'worker_lost', level: 'warning', message, details: { waitSeconds: leftSeconds }, at: nowIso() });
    return key;
  }

  private async withdrawStuckAssignments(): Promise<void> {
    const limitMs = this.config.HOUNSFIELD_ASSIGN_TIMEOUT_SECONDS * 1000;
    const active = await this.jobs.getMany(await this.jobs.activeIds());
    for (const job of active) {
      if (job.state !== 'assigned') continue;
      const assignedAt = Date.parse(job.history[job.history.length - 1].at);
      if (Date.now() - assignedAt < limitMs) continue;
      const workerId = job.workerId;
      if (await this.workerEvents.requeue(job, `worker ${workerId} did not acknowledge the assignment within ${limitMs / 1000} s`, false, {}, 'failed', 'infrastructure')) {
        await Promise.all(workersOf(job).map((id) => this.workerStop.requestWorkerStop(id, job.id, job.attempt, 10)));
      }
    }
  }

  /**
   * One pass over the queues in priority order, placing whatever fits now (smaller jobs may
   * backfill behind a large one that does not fit yet, until it has waited
   * HOUNSFIELD_RESERVE_AFTER_SECONDS: then a worker per node it needs is held back for it). CPU jobs go first: any live worker takes
   * them. The GPU queue is read page by page and the pass stops once no GPU is free, so a long
   * queue costs nothing while the cluster is full.
   */
  async schedulePass(): Promise<void> {
    const candidates = await this.inventory.candidates();
    if (candidates.length === 0) return;
    const policy = { busyUtilizationPercent: this.config.HOUNSFIELD_BUSY_UTILIZATION_PERCENT };
    // Placement is decided in memory for the whole pass (each decision takes its GPUs from the
    // candidates at once), then committed together: the commits are atomic and guarded in Redis,
    // so one that lost a race (a GPU leased meanwhile) is refused and the job waits for the next pass.
    const decided: Promise<boolean>[] = [];
    // Workers held back for GPU jobs that have waited too long (see HOUNSFIELD_RESERVE_AFTER_SECONDS).
    const reserved = new Set<string>();
    const reserveAfterMs = this.config.HOUNSFIELD_RESERVE_AFTER_SECONDS * 1000;
    const open = (): Candidate[] => (reserved.size ? candidates.filter((c) => !reserved.has(c.worker.heartbeat.workerId)) : candidates);
    const tried = new Set<string>();
    const tryPlace = (job: JobRecord) => {
      if (job.state !== 'queued' || tried.has(job.id)) return;
      tried.add(job.id);
      if (awaitingEnvironment(job)) {
        // The environment phase: CPU work on any worker that could later hold the job's GPUs.
        if (job.environment?.state === 'building') return;
        const build = placeEnvironmentBuild(job.spec, candidates, policy);
        if (!build.placed) return;
        const builder = candidates.find((c) => c.worker.heartbeat.workerId === build.workerId);
        if (!builder) return;
        builder.activeJobs += 1;
        builder.cpuSlotsUsed += ENVIRONMENT_BUILD_CPU_SLOTS;
        decided.push(this.assigner.assignEnvironment(job, build.workerId));
        return;
      }
      const gpuJob = job.spec.resources.gpus > 0;
      const result = placeJobPreferring(job.spec, gpuJob ? open() : candidates, policy, job.environment?.key, job.attempt);
      if (!result.placed) {
        const waitedMs = Date.now() - Date.parse(job.history[job.history.length - 1].at);
        if (gpuJob && reserveAfterMs > 0 && waitedMs >= reserveAfterMs) {
          for (const workerId of reservationsFor(job.spec, open(), policy)) reserved.add(workerId);
        }
        return;
      }
      const token = leaseToken(job.id, job.attempt);
      for (const node of result.nodes ?? [{ workerId: result.workerId, gpuIndices: result.gpuIndices }]) {
        const candidate = candidates.find((c) => c.worker.heartbeat.workerId === node.workerId);
        if (!candidate) return;
        for (const index of node.gpuIndices) candidate.leases.set(index, token);
        candidate.activeJobs += 1;
        candidate.cpuSlotsUsed += cpuSlotsOf(job.spec);
        if (node.workerId === result.workerId && result.rendezvous) {
          candidate.rendezvousPortsInUse = new Set(candidate.rendezvousPortsInUse).add(result.rendezvous.port);
        }
      }
      decided.push(this.assigner.assign(job, result));
    };
    const lengths = await this.jobs.queueLengths();
    for (let start = 0; start < lengths[0]; start += PAGE) {
      const page = await this.jobs.queuedPage(0, start, start + PAGE - 1);
      for (const job of await this.jobs.getMany(page.map((e) => e.id))) tryPlace(job);
    }
    // The GPU jobs first in line, whatever their size: placed now if they fit, else perhaps given a
    // reserved worker (the loop below only looks at sizes that fit the free blocks). A job no live
    // worker could hold reserves nothing, so a few are looked at, not only the first.
    if (reserveAfterMs > 0) {
      const pages = await Promise.all(lengths.map((n, size) => (size > 0 && n > 0 ? this.jobs.queuedPage(size, 0, RESERVE_LOOKAHEAD - 1) : [])));
      const first = pages
        .flat()
        .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : 1))
        .slice(0, RESERVE_LOOKAHEAD);
      for (const job of await this.jobs.getMany(first.map((e) => e.id))) tryPlace(job);
    }
    // GPU jobs: merge the heads of every size queue that fits the largest free block, in
    // priority-then-age order; a head that cannot be placed (type, memory) is skipped this pass.
    // Records are read a few heads at a time, ahead of need.
    const cursors = new Map<number, { entries: { id: string; score: number }[]; next: number }>();
    const records = new Map<string, JobRecord>();
    let block = largestFreeBlock(open(), policy);
    while (block > 0) {
      let best: { size: number; id: string; score: number } | undefined;
      for (let size = 1; size <= block; size += 1) {
        if (!lengths[size]) continue;
        let cursor = cursors.get(size);
        if (!cursor || (cursor.entries.length === 0 && cursor.next < lengths[size])) {
          const from = cursor?.next ?? 0;
          cursor = { entries: await this.jobs.queuedPage(size, from, from + PAGE - 1), next: from + PAGE };
          cursors.set(size, cursor);
        }
        const head = cursor.entries[0];
        if (head && (!best || head.score < best.score || (head.score === best.score && head.id < best.id))) {
          best = { size, ...head };
        }
      }
      if (!best) break;
      const cursor = cursors.get(best.size);
      if (!records.has(best.id) && cursor) {
        for (const job of await this.jobs.getMany(cursor.entries.slice(0, RECORDS_AHEAD).map((e) => e.id))) records.set(job.id, job);
      }
      cursor?.entries.shift();
      const job = records.get(best.id);
      if (job) tryPlace(job);
      block = largestFreeBlock(open(), policy);
    }
    const placed = await Promise.all(decided);
    if (placed.some(Boolean)) await this.outbox.flush();
  }
}
