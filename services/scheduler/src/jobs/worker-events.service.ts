import { Injectable, Logger } from '@nestjs/common';
import { EnvironmentEvent, isTerminalJobState, isTrainingSpec, JobNoticeEvent, JobRecord, JobState, ProgressEvent, StatusEvent, TrainingJobSpec } from '@hounsfield/contracts';
import { SchedulingTrigger } from '../scheduling/scheduling.trigger';
import { OutboxPublisher } from '../scheduling/outbox.publisher';
import { halvedBatchCap, resolveHyperparameters } from './batch-resolution';
import { CommitOptions, JobRepository, queueScore } from './job.repository';
import { clearPlacement, endAttempt, nowIso, releaseOf, stateEventEntry, transition, workersOf } from './job-transitions';
import { WorkerStopClient } from './worker-stop.client';

const PLACED_STATES: JobState[] = ['assigned', 'starting', 'running'];
/** Environment builds lost or failed by the workers' fault before the job fails (see requeueEnvironment). */
const MAX_ENVIRONMENT_BUILD_FAILURES = 5;

/**
 * What workers report, and what it does to a job: progress and notices stored, status moving the
 * attempt along (success, cancellation, restart, out-of-memory retry, requeue after an
 * infrastructure failure), and attempts a worker still runs that are no longer current stopped.
 */
@Injectable()
export class WorkerEvents {
  private readonly logger = new Logger(WorkerEvents.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly outbox: OutboxPublisher,
    private readonly trigger: SchedulingTrigger,
    private readonly workerStop: WorkerStopClient,
  ) {}
  async onProgress(event: ProgressEvent): Promise<void> {
    await this.jobs.saveProgress(event);
  }

  async onNotice(event: JobNoticeEvent): Promise<void> {
    await this.jobs.saveNotice(event);
  }

  async onStatus(reported: StatusEvent): Promise<void> {
    let event = reported;
    const job = await this.jobs.get(event.jobId);
    if (!job) {
      this.logger.warn(`status for unknown job ${event.jobId} ignored`);
      return;
    }
    if (job.workerId !== undefined && !workersOf(job).includes(event.workerId) && event.attempt === job.attempt) {
      // Job subjects are not per worker, so a status naming another worker than the placement is refused here.
      this.logger.warn(`status ${event.state} of job ${job.id} attempt ${event.attempt} from worker ${event.workerId} ignored: the attempt is on ${job.workerId}`);
      return;
    }
    if (event.attempt !== job.attempt || isTerminalJobState(job.state) || job.state === 'queued') {
      // A report from an attempt the scheduler already gave up on: make sure it stops.
      if ((event.state === 'starting' || event.state === 'running') && event.attempt <= job.attempt) {
        await this.workerStop.requestWorkerStop(event.workerId, job.id, event.attempt, 10);
      }
      return;
    }
    const release = releaseOf(job, event.workerId);
    const exit = { exitCode: event.exitCode, reason: event.reason, logTail: event.logTail };
    if (job.nodes?.length && event.workerId !== job.workerId) {
      // Node 0 speaks for a multi-node attempt; another node matters only when it ends first.
      const asNode0 = this.otherNodeEnded(job, event);
      if (!asNode0) return;
      event = asNode0;
    }
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
   * A status from a node other than node 0 of a multi-node attempt, as node 0's would read: a node
   * that ends before the attempt does (its trainer failed, or its agent stopped it) ends the whole
   * attempt, which is then requeued as one (or failed) and its other nodes are stopped. Starting,
   * running and success are node 0's to report; undefined for those, and while a stop was asked
   * for (node 0's end then ends the job).
   */
  private otherNodeEnded(job: JobRecord, event: StatusEvent): StatusEvent | undefined {
    if (event.state === 'starting' || event.state === 'running' || event.state === 'succeeded' || job.cancelRequested) return undefined;
    const rank = job.nodes?.find((node) => node.workerId === event.workerId)?.nodeRank;
    const reason = `node ${rank} (worker ${event.workerId}) ${event.state === 'failed' ? 'failed' : `was ${event.state}`}: ${event.reason ?? `exit code ${event.exitCode}`}`;
    const failureKind = event.state === 'failed' ? (event.failureKind ?? 'trainer') : 'infrastructure';
    return { ...event, state: 'failed', failureKind, reason };
  }

  /**
   * Stops the trainers of every node of a multi-node attempt that has ended or was requeued (the
   * node that ended has nothing left to stop; a gone worker is the dead-worker path's).
   */
  private async stopNodes(job: JobRecord, why: string): Promise<void> {
    if (!job.nodes?.length) return;
    this.logger.log(`job ${job.id}#${job.attempt}: stopping its nodes on ${workersOf(job).join(', ')} (${why})`);
    await Promise.all(workersOf(job).map((workerId) => this.workerStop.requestWorkerStop(workerId, job.id, job.attempt, 10)));
  }

  /**
   * How a job's environment build ended (its environment phase; the job is `queued` meanwhile):
   * `ready` puts it in its GPU queue, where placement prefers workers that have the environment
   * cached; `environment` and `preflight` failures end the job `failed` at once, with pip's output,
   * no attempt placed and no GPU leased, not retried (the same requirements fail the same way); an
   * `infrastructure` failure places the build again. A report of a build that is no longer the
   * job's (withdrawn and placed again, or the job ended: a cancelled build) changes nothing.
   */
  async onEnvironment(event: EnvironmentEvent): Promise<void> {
    const job = await this.jobs.get(event.jobId);
    const environment = job?.environment;
    if (!job || job.state !== 'queued' || environment?.state !== 'building' || environment.buildId !== event.buildId || environment.workerId !== event.workerId) {
      this.logger.log(`environment ${event.outcome} of job ${event.jobId} (build ${event.buildId}) is no longer current; ignored`);
      return;
    }
    if (event.outcome === 'ready') {
      const next: JobRecord = {
        ...job,
        environment: { ...environment, state: 'ready', ...(event.key ? { key: event.key } : {}), ...(event.cached ? { cached: true } : {}), readyAt: event.at },
        updatedAt: nowIso(),
      };
      const result = await this.jobs.commit(next, {
        expectedAttempt: job.attempt,
        allowedStates: ['queued'],
        expectedEnvironmentBuild: event.buildId,
        queueScore: queueScore(job.spec.priority, job.createdAt),
        active: false,
      });
      if (result !== 'ok') this.logger.warn(`job ${job.id}: environment ready not applied (${result})`);
      else this.logger.log(`job ${job.id}: environment ${event.key ?? '(nothing to install)'} ready on ${event.workerId}${event.cached ? ' (cached)' : ''}`);
    } else if (event.outcome === 'failed' && event.failureKind !== 'infrastructure') {
      const kind = event.failureKind ?? 'environment';
      const reason = event.reason ?? 'the job\'s environment could not be built';
      const failed = transition({ ...job, environment: undefined }, 'failed', { reason, finishedAt: event.at }, reason);
      failed.history[failed.history.length - 1].failureKind = kind;
      await this.jobs
        .commit(failed, { expectedAttempt: job.attempt, allowedStates: ['queued'], expectedEnvironmentBuild: event.buildId, active: false, outbox: [stateEventEntry(failed, 'queued')] })
        .then(async (result) => (result === 'ok' ? this.outbox.flush() : this.logger.warn(`job ${job.id}: environment failure not applied (${result})`)));
    } else {
      // `infrastructure` counts against the job (a worker that cannot fetch the code or create an
      // environment would otherwise be given the build forever); `cancelled` (an agent stopping) does not.
      const why = `worker ${event.workerId}: ${event.reason ?? `the environment build ended ${event.outcome}`}`;
      await this.requeueEnvironment(job, why, event.outcome === 'failed');
    }
    this.trigger.kick();
  }

  /**
   * An environment build that will not report (lost, or failed by the worker's fault) goes back to
   * the queue to be placed again; after MAX_ENVIRONMENT_BUILD_FAILURES such failures the job fails
   * (kind `infrastructure`) instead of being built forever.
   */
  async requeueEnvironment(job: JobRecord, reason: string, countsAsFailure = true): Promise<boolean> {
    const failures = (job.environmentBuildFailures ?? 0) + (countsAsFailure ? 1 : 0);
    const guard = job.environment ? { expectedEnvironmentBuild: job.environment.buildId } : {};
    if (failures >= MAX_ENVIRONMENT_BUILD_FAILURES) {
      const why = `${reason}; its environment build failed ${failures} times by the workers' fault, so the job is not built again (check the workers' logs, then submit it again)`;
      const failed = transition({ ...job, environment: undefined, environmentBuildFailures: failures }, 'failed', { reason: why, finishedAt: nowIso() }, why);
      failed.history[failed.history.length - 1].failureKind = 'infrastructure';
      const ended = await this.jobs.commit(failed, { expectedAttempt: job.attempt, allowedStates: ['queued'], ...guard, active: false, outbox: [stateEventEntry(failed, 'queued')] });
      if (ended === 'ok') await this.outbox.flush();
      return ended === 'ok';
    }
    const next: JobRecord = { ...job, environment: undefined, ...(failures ? { environmentBuildFailures: failures } : {}), updatedAt: nowIso() };
    const result = await this.jobs.commit(next, {
      expectedAttempt: job.attempt,
      allowedStates: ['queued'],
      ...guard,
      queueScore: queueScore(job.spec.priority, job.createdAt),
      active: false,
    });
    if (result === 'ok') {
      this.logger.warn(`job ${job.id}: ${reason}`);
      this.trigger.kick();
    }
    return result === 'ok';
  }

  /** Asks a worker to stop the attempts it runs that are no longer the current attempt on it. */
  async stopStaleAttempts(workerId: string, running: { jobId: string; attempt: number }[]): Promise<void> {
    if (running.length === 0) return;
    const current = new Map((await this.jobs.getMany(running.map((r) => r.jobId))).map((job) => [job.id, job]));
    await Promise.all(
      running.map(async ({ jobId, attempt }) => {
        const job = current.get(jobId);
        const stale = !job || job.attempt !== attempt || !workersOf(job).includes(workerId) || isTerminalJobState(job.state) || job.state === 'queued';
        if (!stale) return;
        this.logger.warn(`worker ${workerId} still runs ${jobId}#${attempt}, which is no longer its attempt; asking it to stop`);
        await this.workerStop.requestWorkerStop(workerId, jobId, attempt, 10);
      }),
    );
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
        lease: releaseOf(job),
        outbox: [stateEventEntry(ended, job.state)],
      });
      if (result === 'ok') {
        await this.outbox.flush();
        await this.stopNodes(job, why);
      }
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
      lease: releaseOf(job),
      outbox: [stateEventEntry(next, job.state)],
    });
    if (result === 'ok') {
      this.logger.log(`job ${job.id} requeued as attempt ${attempt}: ${reason}`);
      await this.stopNodes(job, reason);
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
      if (!options.active) await this.stopNodes(previous, `the attempt ended ${next.state}`);
    } else {
      this.logger.warn(`job ${previous.id}: change to ${next.state} not applied (${result})`);
    }
  }
}
