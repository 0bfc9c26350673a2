import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import {
  AttemptCurrentReply,
  decodeCursor,
  encodeCursor,
  isTerminalJobState,
  isTrainingSpec,
  JobNoticeEvent,
  JobPage,
  ListJobsRequest,
  JobRecord,
  jobSpecSchema,
  JobState,
  ProgressEvent,
  StatusEvent,
  TrainingJobSpec,
  workerCancelSubject,
  WorkerCancelRequest,
} from '@hounsfield/contracts';
import { encodeJson, NatsClient } from '@hounsfield/messaging';
import { z } from 'zod';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { SchedulerErrorCode, schedulerError } from '../scheduler.errors';
import { InventoryService } from '../scheduling/inventory.service';
import { capacityShortfall, placeJob } from '../scheduling/placement';
import { SchedulingTrigger } from '../scheduling/scheduling.trigger';
import { OutboxPublisher } from '../scheduling/outbox.publisher';
import { leaseToken } from '../workers/worker.model';
import { BatchResolutionError, halvedBatchCap, resolveHyperparameters } from './batch-resolution';
import { CommitOptions, JobRepository, queueScore } from './job.repository';
import { clearPlacement, endAttempt, nowIso, stateEventEntry, transition } from './job-transitions';

const jobPositionSchema = z.object({ score: z.number(), id: z.string() }).strict();

const PLACED_STATES: JobState[] = ['assigned', 'starting', 'running'];

function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Submission, queries, cancellation, and the job's reaction to what workers report. */
@Injectable()
export class JobLifecycleService {
  private readonly logger = new Logger(JobLifecycleService.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly outbox: OutboxPublisher,
    private readonly trigger: SchedulingTrigger,
    private readonly inventory: InventoryService,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  async submit(rawSpec: unknown, owner?: string): Promise<JobRecord> {
    const parsed = jobSpecSchema.safeParse(rawSpec);
    if (!parsed.success) {
      throw schedulerError(SchedulerErrorCode.InvalidSpec, 'the job spec is invalid', {
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const spec = parsed.data;
    let resolved;
    try {
      // Internal tasks train nothing: no batch or learning rate to resolve.
      resolved = isTrainingSpec(spec) ? resolveHyperparameters(spec) : undefined;
    } catch (error) {
      if (error instanceof BatchResolutionError) {
        throw schedulerError(SchedulerErrorCode.Unschedulable, error.message, {
          issues: [{ path: 'hyperparameters.globalBatch', message: error.message }],
          details: { nearestValidGlobalBatches: error.nearestValid },
        });
      }
      throw error;
    }
    if (!spec.resources.waitForCapacity) {
      const shortfall = capacityShortfall(spec, await this.inventory.liveWorkers());
      if (shortfall) throw schedulerError(SchedulerErrorCode.Unschedulable, shortfall);
    }
    const at = nowIso();
    const job: JobRecord = {
      id: newJobId(),
      ...(owner !== undefined ? { owner } : {}),
      spec,
      state: 'queued',
      attempt: 1,
      restarts: 0,
      createdAt: at,
      updatedAt: at,
      ...(resolved ? { resolved } : {}),
      history: [{ state: 'queued', attempt: 1, at }],
    };
    await this.jobs.create(job, [stateEventEntry(job, undefined)]);
    await this.outbox.flush();
    this.logger.log(`job ${job.id} (${spec.kind} "${spec.name}") queued`);
    this.trigger.kick();
    return this.view(job);
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.jobs.get(id);
    if (!job) throw schedulerError(SchedulerErrorCode.NotFound, `no job with id ${id}`);
    return this.view(job);
  }

  /** A page of jobs, newest first; the cursor is the last job's position, opaque to callers. */
  async list(request: ListJobsRequest): Promise<JobPage> {
    const after = request.cursor === undefined ? undefined : decodeCursor(jobPositionSchema, request.cursor);
    if (request.cursor !== undefined && after === undefined) {
      throw schedulerError(SchedulerErrorCode.InvalidSpec, 'cursor is not one this list returned; start without it');
    }
    const states = request.states ?? (request.state ? [request.state] : undefined);
    const page = await this.jobs.page({ states, owner: request.owner, limit: request.limit, after });
    const jobs = await Promise.all(page.jobs.map((job) => this.view(job)));
    return { jobs, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
  }

  /** Adds what is kept apart from the record: queue position, latest progress and notices. */
  private async view(job: JobRecord): Promise<JobRecord> {
    const [position, progress, notices] = await Promise.all([
      job.state === 'queued' ? this.jobs.queuePosition(job) : undefined,
      this.jobs.getProgress(job.id),
      this.jobs.getNotices(job.id),
    ]);
    return {
      ...job,
      ...(position !== undefined ? { queuePosition: position } : {}),
      ...(progress && progress.attempt === job.attempt ? { lastProgress: progress } : {}),
      ...(notices.length ? { notices } : {}),
      ...(job.state === 'queued' ? { pendingReason: await this.pendingReason(job, position) } : {}),
    };
  }

  /**
   * Why a queued job waits, computed from the inventory now (not stored, so it is never stale):
   * what it needs against what is free, or the jobs ahead of it when it would fit.
   */
  private async pendingReason(job: JobRecord, position: number | undefined): Promise<string> {
    const result = placeJob(job.spec, await this.inventory.candidatesForView(), { busyUtilizationPercent: this.config.HOUNSFIELD_BUSY_UTILIZATION_PERCENT });
    if (!result.placed) return result.reason;
    const ahead = (position ?? 1) - 1;
    return ahead > 0
      ? `fits on ${result.workerId} now; ${ahead} job(s) ahead of it in the queue are placed first`
      : `fits on ${result.workerId}; waiting for the next scheduling pass`;
  }

  /** Queued jobs end at once; placed ones get SIGTERM, a grace period, then SIGKILL from their worker. */
  cancel(id: string, graceSeconds: number): Promise<JobRecord> {
    return this.stop(id, graceSeconds, 'cancelled', 'cancelled by request');
  }

  /** Like cancel, but the job ends `failed` with the reason and spends no restart on it. */
  fail(id: string, reason: string, graceSeconds: number): Promise<JobRecord> {
    return this.stop(id, graceSeconds, 'failed', reason);
  }

  private async stop(id: string, graceSeconds: number, stopAs: 'cancelled' | 'failed', reason: string): Promise<JobRecord> {
    const job = await this.jobs.get(id);
    if (!job) throw schedulerError(SchedulerErrorCode.NotFound, `no job with id ${id}`);
    if (isTerminalJobState(job.state)) {
      throw schedulerError(SchedulerErrorCode.Conflict, `job ${id} already ended (${job.state})`);
    }
    if (job.state === 'queued' || job.state === 'preempted') {
      const next = transition(job, stopAs, { finishedAt: nowIso(), ...(stopAs === 'failed' ? { reason } : {}) }, reason);
      await this.commitOrConflict(next, { expectedAttempt: job.attempt, allowedStates: [job.state], active: false, outbox: [stateEventEntry(next, job.state)] });
      return this.view(next);
    }
    const marked = { ...job, cancelRequested: true, stopAs, stopReason: reason, updatedAt: nowIso() };
    await this.commitOrConflict(marked, {
      expectedAttempt: job.attempt,
      allowedStates: [job.state],
      active: true,
    });
    if (job.workerId) await this.requestWorkerStop(job.workerId, job.id, job.attempt, graceSeconds);
    return this.view(marked);
  }

  private async commitOrConflict(job: JobRecord, options: CommitOptions): Promise<void> {
    const result = await this.jobs.commit(job, options);
    if (result !== 'ok') throw schedulerError(SchedulerErrorCode.Conflict, `job ${job.id} changed meanwhile; try again`);
    await this.outbox.flush();
  }

  /**
   * Whether `attempt` is still job `jobId`'s current attempt on `workerId`: a restarted agent
   * re-adopts the trainer if so, and stops it otherwise (before any new attempt starts there).
   */
  async attemptCurrent(jobId: string, attempt: number, workerId: string): Promise<AttemptCurrentReply> {
    const job = await this.jobs.get(jobId);
    if (!job) return { current: false, reason: `no job ${jobId}` };
    if (job.attempt !== attempt) return { current: false, reason: `the job is at attempt ${job.attempt} now` };
    if (job.workerId !== workerId) return { current: false, reason: `attempt ${attempt} is placed on worker ${job.workerId ?? '(none)'}` };
    if (!PLACED_STATES.includes(job.state)) return { current: false, reason: `the job is ${job.state}` };
    return { current: true, reason: '' };
  }

  /** Asks a worker to stop the attempts it runs that are no longer the current attempt on it. */
  async stopStaleAttempts(workerId: string, running: { jobId: string; attempt: number }[]): Promise<void> {
    if (running.length === 0) return;
    const current = new Map((await this.jobs.getMany(running.map((r) => r.jobId))).map((job) => [job.id, job]));
    await Promise.all(
      running.map(async ({ jobId, attempt }) => {
        const job = current.get(jobId);
        const stale = !job || job.attempt !== attempt || job.workerId !== workerId || isTerminalJobState(job.state) || job.state === 'queued';
        if (!stale) return;
        this.logger.warn(`worker ${workerId} still runs ${jobId}#${attempt}, which is no longer its attempt; asking it to stop`);
        await this.requestWorkerStop(workerId, jobId, attempt, 10);
      }),
    );
  }

  /** Best effort: a worker that is gone is handled by the dead-worker path instead. */
  async requestWorkerStop(workerId: string, jobId: string, attempt: number, graceSeconds: number): Promise<void> {
    const request: WorkerCancelRequest = { jobId, attempt, graceSeconds };
    try {
      await this.nats.nc.request(workerCancelSubject(workerId), encodeJson(request), { timeout: 5000 });
    } catch (error) {
      this.logger.warn(`could not reach worker ${workerId} to stop ${jobId}#${attempt}: ${String(error)}`);
    }
  }

  async onProgress(event: ProgressEvent): Promise<void> {
    await this.jobs.saveProgress(event);
  }

  async onNotice(event: JobNoticeEvent): Promise<void> {
    await this.jobs.saveNotice(event);
  }

  async onStatus(event: StatusEvent): Promise<void> {
    const job = await this.jobs.get(event.jobId);
    if (!job) {
      this.logger.warn(`status for unknown job ${event.jobId} ignored`);
      return;
    }
    if (job.workerId !== undefined && event.workerId !== job.workerId && event.attempt === job.attempt) {
      // Job subjects are not per worker, so a status naming another worker than the placement is refused here.
      this.logger.warn(`status ${event.state} of job ${job.id} attempt ${event.attempt} from worker ${event.workerId} ignored: the attempt is on ${job.workerId}`);
      return;
    }
    if (event.attempt !== job.attempt || isTerminalJobState(job.state) || job.state === 'queued') {
      // A report from an attempt the scheduler already gave up on: make sure it stops.
      if ((event.state === 'starting' || event.state === 'running') && event.attempt <= job.attempt) {
        await this.requestWorkerStop(event.workerId, job.id, event.attempt, 10);
      }
      return;
    }
    const release = { op: 'release' as const, workerId: job.workerId ?? event.workerId, token: leaseToken(job.id, job.attempt) };
    const exit = { exitCode: event.exitCode, reason: event.reason, logTail: event.logTail };
    switch (event.state) {
      case 'starting':
        if (job.state !== 'assigned') return;
        await this.commit(transition(job, 'starting'), job, { active: true });
        return;
      case 'running':
        if (job.state === 'running') return;
        await this.commit(transition(job, 'running', { runtime: event.runtime, startedAt: job.startedAt ?? event.at }), job, { active: true });
        return;
      case 'succeeded':
        await this.commit(endAttempt(transition(job, 'succeeded', { ...exit, finishedAt: event.at }), 'succeeded'), job, { active: false, lease: release });
        break;
      case 'cancelled': {
        const endAs = job.stopAs ?? 'cancelled';
        const reason = job.stopReason ?? event.reason;
        await this.commit(endAttempt(transition(job, endAs, { ...exit, reason, finishedAt: event.at }, reason), endAs), job, { active: false, lease: release });
        break;
      }
      case 'preempted':
        await this.requeue(job, `preempted: ${event.reason ?? 'the worker stopped the attempt'}`, false, {}, 'preempted');
        break;
      case 'failed': {
        const kind = event.failureKind ?? 'trainer';
        if (job.cancelRequested) {
          const endAs = job.stopAs ?? 'cancelled';
          const reason = job.stopReason ?? 'cancelled by request';
          await this.commit(endAttempt(transition(job, endAs, { ...exit, reason, finishedAt: event.at }, reason), endAs), job, { active: false, lease: release });
        } else if (kind === 'infrastructure') {
          await this.requeue(job, `worker ${event.workerId}: ${event.reason ?? 'infrastructure failure'} (no restart spent)`, false, exit, 'failed', kind);
        } else if (kind === 'oom' && isTrainingSpec(job.spec)) {
          await this.retryOutOfMemory({ ...job, spec: job.spec }, event, exit, release);
        } else if (kind === 'trainer' && job.restarts < job.spec.maxRestarts) {
          await this.requeue(job, event.reason ?? `exit code ${event.exitCode}`, true, exit, 'failed', kind);
        } else {
          const failed = endAttempt(transition(job, 'failed', { ...exit, finishedAt: event.at }, event.reason), 'failed', kind, event.reason);
          await this.commit(failed, job, { active: false, lease: release });
        }
        break;
      }
    }
    this.trigger.kick();
  }

  /**
   * Out of memory: the attempt is retried with half the per-device batch and twice the
   * accumulation (the scheduler resolves the next attempt under the lowered cap; the global batch
   * and learning rate stay), without spending a restart, until a per-device batch of 1 also ran
   * out of memory.
   */
  private async retryOutOfMemory(
    job: JobRecord & { spec: TrainingJobSpec },
    event: StatusEvent,
    exit: Partial<JobRecord>,
    release: CommitOptions['lease'],
  ): Promise<void> {
    const perDevice = job.resolved?.perDeviceBatch ?? 1;
    const cap = halvedBatchCap(perDevice);
    const why = event.reason ?? 'out of memory';
    if (cap === undefined) {
      const reason = `${why}; it ran out of memory with a per-device batch of 1, so there is nothing smaller to retry with: use GPUs with more memory, gradientCheckpointing, or a smaller model or input`;
      await this.commit(endAttempt(transition(job, 'failed', { ...exit, reason, finishedAt: event.at }, reason), 'failed', 'oom', why), job, { active: false, lease: release });
      return;
    }
    const next = resolveHyperparameters(job.spec, job.resolved?.worldSize, cap);
    const reason =
      `${why}; retrying with ${next.perDeviceBatch} per device × ${next.gradAccumSteps} accumulation ` +
      `(was ${perDevice} × ${job.resolved?.gradAccumSteps ?? 1}; global batch ${next.globalBatch} and lr ${next.lr} unchanged, no restart spent)`;
    await this.requeue(job, reason, false, exit, 'failed', 'oom', { perDeviceBatchCap: cap });
  }

  /**
   * Puts a placed job back in the queue as a new attempt. `spendRestart` is true for trainer
   * failures; lost workers, withdrawn assignments, preemption and out-of-memory retries spend none.
   * `outcome`/`failureKind` close the ended attempt's summary; `patch` changes the record (the OOM cap).
   */
  async requeue(
    job: JobRecord,
    reason: string,
    spendRestart: boolean,
    exit: Partial<JobRecord> = {},
    outcome: JobState = 'failed',
    failureKind?: StatusEvent['failureKind'],
    patch: Partial<JobRecord> = {},
  ): Promise<boolean> {
    if (job.cancelRequested) {
      // Someone asked to stop it; a lost worker does not bring it back.
      const endAs = job.stopAs ?? 'cancelled';
      const why = `${job.stopReason ?? 'cancelled by request'} (${reason})`;
      const ended = endAttempt(transition(job, endAs, { ...exit, reason: why, finishedAt: nowIso() }, why), endAs);
      const result = await this.jobs.commit(ended, {
        expectedAttempt: job.attempt,
        allowedStates: PLACED_STATES,
        active: false,
        lease: { op: 'release', workerId: job.workerId ?? '_none', token: leaseToken(job.id, job.attempt) },
        outbox: [stateEventEntry(ended, job.state)],
      });
      if (result === 'ok') await this.outbox.flush();
      return result === 'ok';
    }
    const attempt = job.attempt + 1;
    const closed = endAttempt({ ...job, ...patch }, outcome, failureKind, reason);
    const ended = spendRestart ? transition(closed, 'failed', exit, reason) : { ...closed, ...exit };
    const why = spendRestart ? '' : `${reason}; `;
    const next = transition(clearPlacement(ended), 'queued', {
      attempt,
      restarts: job.restarts + (spendRestart ? 1 : 0),
      cancelRequested: undefined,
      stopAs: undefined,
      stopReason: undefined,
    }, `${why}requeued as attempt ${attempt}${spendRestart ? ` (restart ${job.restarts + 1} of ${job.spec.maxRestarts})` : ''}`);
    const result = await this.jobs.commit(next, {
      expectedAttempt: job.attempt,
      allowedStates: PLACED_STATES.concat(['preempted']),
      queueScore: queueScore(job.spec.priority, job.createdAt),
      active: false,
      lease: { op: 'release', workerId: job.workerId ?? '_none', token: leaseToken(job.id, job.attempt) },
      outbox: [stateEventEntry(next, job.state)],
    });
    if (result === 'ok') {
      this.logger.log(`job ${job.id} requeued as attempt ${attempt}: ${reason}`);
      await this.outbox.flush();
      this.trigger.kick();
    }
    return result === 'ok';
  }

  private async commit(next: JobRecord, previous: JobRecord, options: Omit<CommitOptions, 'expectedAttempt' | 'allowedStates' | 'outbox'>): Promise<void> {
    const result = await this.jobs.commit(next, {
      ...options,
      expectedAttempt: previous.attempt,
      allowedStates: [previous.state],
      outbox: [stateEventEntry(next, previous.state)],
    });
    if (result === 'ok') {
      await this.outbox.flush();
    } else {
      this.logger.warn(`job ${previous.id}: change to ${next.state} not applied (${result})`);
    }
  }
}
