import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { isTerminalJobState, isTrainingSpec, JobRecord, jobSpecSchema } from '@hounsfield/contracts';
import { SchedulerErrorCode, schedulerError } from '../scheduler.errors';
import { InventoryService } from '../scheduling/inventory.service';
import { capacityShortfall } from '../scheduling/placement';
import { SchedulingTrigger } from '../scheduling/scheduling.trigger';
import { OutboxPublisher } from '../scheduling/outbox.publisher';
import { BatchResolutionError, resolveHyperparameters } from './batch-resolution';
import { JobQueries } from './job-queries.service';
import { CommitOptions, JobRepository } from './job.repository';
import { nowIso, stateEventEntry, transition, workersOf } from './job-transitions';
import { WorkerStopClient } from './worker-stop.client';

function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** What users ask of jobs: submission (checked and resolved here), cancellation, and stopping one as failed. */
@Injectable()
export class JobCommands {
  private readonly logger = new Logger(JobCommands.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly queries: JobQueries,
    private readonly outbox: OutboxPublisher,
    private readonly trigger: SchedulingTrigger,
    private readonly inventory: InventoryService,
    private readonly workerStop: WorkerStopClient,
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
    return this.queries.view(job);
  }

  /** Queued jobs end at once (an environment build is stopped); placed ones get SIGTERM, a grace period, then SIGKILL from their worker. */
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
      // A job building its environment ends at once too; its worker kills pip (its process group).
      if (job.environment?.state === 'building') await this.workerStop.requestWorkerStop(job.environment.workerId, job.id, job.attempt, 0);
      return this.queries.view(next);
    }
    const marked = { ...job, cancelRequested: true, stopAs, stopReason: reason, updatedAt: nowIso() };
    await this.commitOrConflict(marked, {
      expectedAttempt: job.attempt,
      allowedStates: [job.state],
      active: true,
    });
    await Promise.all(workersOf(job).map((workerId) => this.workerStop.requestWorkerStop(workerId, job.id, job.attempt, graceSeconds)));
    return this.queries.view(marked);
  }

  private async commitOrConflict(job: JobRecord, options: CommitOptions): Promise<void> {
    const result = await this.jobs.commit(job, options);
    if (result !== 'ok') throw schedulerError(SchedulerErrorCode.Conflict, `job ${job.id} changed meanwhile; try again`);
    await this.outbox.flush();
  }
}
