import { Inject, Injectable } from '@nestjs/common';
import { AttemptCurrentReply, decodeCursor, encodeCursor, JobPage, JobRecord, JobState, ListJobsRequest } from '@hounsfield/contracts';
import { z } from 'zod';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { SchedulerErrorCode, schedulerError } from '../scheduler.errors';
import { InventoryService } from '../scheduling/inventory.service';
import { awaitingEnvironment, environmentPhaseWork, placeEnvironmentBuild, placeJobPreferring } from '../scheduling/placement';
import { JobRepository } from './job.repository';
import { workersOf } from './job-transitions';

const jobPositionSchema = z.object({ score: z.number(), id: z.string() }).strict();

const PLACED_STATES: JobState[] = ['assigned', 'starting', 'running'];

/** Reads of jobs: one record or a page, each with its queue position, latest progress, notices and pending reason. */
@Injectable()
export class JobQueries {
  constructor(
    private readonly jobs: JobRepository,
    private readonly inventory: InventoryService,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
  ) {}
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
  async view(job: JobRecord): Promise<JobRecord> {
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
    const policy = { busyUtilizationPercent: this.config.HOUNSFIELD_BUSY_UTILIZATION_PERCENT };
    if (job.environment?.state === 'building') {
      return `${environmentPhaseWork(job.spec).doing} on ${job.environment.workerId} since ${job.environment.requestedAt} (one CPU slot; no GPU is leased until it is ready)`;
    }
    if (awaitingEnvironment(job)) {
      const build = placeEnvironmentBuild(job.spec, await this.inventory.candidatesForView(), policy);
      return build.placed ? `${environmentPhaseWork(job.spec).first} (no GPU is leased until it is ready); fits on ${build.workerId} for that` : build.reason;
    }
    const result = placeJobPreferring(job.spec, await this.inventory.candidatesForView(), policy, job.environment?.key, job.attempt);
    if (!result.placed) return result.reason;
    const ahead = (position ?? 1) - 1;
    const where = result.nodes ? `${result.nodes.length} nodes (${result.nodes.map((n) => n.workerId).join(', ')})` : result.workerId;
    return ahead > 0
      ? `fits on ${where} now; ${ahead} job(s) ahead of it in the queue are placed first`
      : `fits on ${where}; waiting for the next scheduling pass`;
  }

  /**
   * Whether `attempt` is still job `jobId`'s current attempt on `workerId`: a restarted agent
   * re-adopts the trainer if so, and stops it otherwise (before any new attempt starts there).
   */
  async attemptCurrent(jobId: string, attempt: number, workerId: string): Promise<AttemptCurrentReply> {
    const job = await this.jobs.get(jobId);
    if (!job) return { current: false, reason: `no job ${jobId}` };
    if (job.attempt !== attempt) return { current: false, reason: `the job is at attempt ${job.attempt} now` };
    if (!workersOf(job).includes(workerId)) return { current: false, reason: `attempt ${attempt} is placed on worker ${workersOf(job).join(', ') || '(none)'}` };
    if (!PLACED_STATES.includes(job.state)) return { current: false, reason: `the job is ${job.state}` };
    return { current: true, reason: '' };
  }
}
