import { Inject, Injectable, Logger } from '@nestjs/common';
import { SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc, RpcFailure } from '@hounsfield/messaging';
import { contextFromRecord, JobContext, unknownJobContext } from './job-context';

/** A scheduler that does not answer within this time counts as unavailable for this batch. */
const RPC_TIMEOUT_MS = 3000;
/** Contexts kept; the oldest is dropped beyond it (finished jobs are also dropped explicitly). */
const MAX_CONTEXTS = 10_000;
/** After a failed read, the scheduler is not asked about the job again for this long (no timeout per batch). */
const RETRY_AFTER_MS = 10_000;

/** The scheduler could not be asked; the events that need the context are retried later. */
export class ContextUnavailableError extends Error {}

/**
 * Job contexts read from the scheduler once per attempt (`getJob` over NATS) and cached: the
 * spec's monitoring policy, the resolved batch, and where the attempt runs.
 */
@Injectable()
export class JobContextService {
  private readonly logger = new Logger(JobContextService.name);
  /** `covers`: the highest attempt this context was read for, so a stale record is not re-read per event. */
  private readonly cache = new Map<string, { context: JobContext; covers: number }>();
  private readonly pending = new Map<string, Promise<JobContext>>();
  private readonly failedUntil = new Map<string, number>();

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** The cached context if it describes this attempt (or a later one), without asking. */
  peek(jobId: string, attempt: number): JobContext | undefined {
    const cached = this.cache.get(jobId);
    return cached && cached.covers >= attempt ? cached.context : undefined;
  }

  /** The context for an attempt; asks the scheduler when the cache holds none for it. */
  async get(jobId: string, attempt: number): Promise<JobContext> {
    const cached = this.peek(jobId, attempt);
    if (cached) return cached;
    if ((this.failedUntil.get(jobId) ?? 0) > Date.now()) throw new ContextUnavailableError(`job ${jobId}: the scheduler did not answer recently`);
    let request = this.pending.get(jobId);
    if (!request) {
      request = this.fetch(jobId, attempt).finally(() => this.pending.delete(jobId));
      this.pending.set(jobId, request);
    }
    return request;
  }

  forget(jobId: string): void {
    this.cache.delete(jobId);
    this.failedUntil.delete(jobId);
  }

  private async fetch(jobId: string, attempt: number): Promise<JobContext> {
    let context: JobContext;
    try {
      context = contextFromRecord(await requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id: jobId }, RPC_TIMEOUT_MS));
    } catch (error) {
      if (error instanceof RpcFailure && error.error.code === 'not_found') {
        this.logger.warn(`job ${jobId} is unknown to the scheduler; watching it with default thresholds`);
        context = unknownJobContext(jobId, attempt);
      } else {
        this.failedUntil.set(jobId, Date.now() + RETRY_AFTER_MS);
        const why = `cannot read job ${jobId} from the scheduler: ${error instanceof Error ? error.message : String(error)}`;
        this.logger.warn(`${why}; default thresholds until it answers (asking again in ${RETRY_AFTER_MS / 1000} s)`);
        throw new ContextUnavailableError(why);
      }
    }
    // A record older than the event (a report racing the requeue) still beats nothing; it is read
    // again at the next event of the newer attempt.
    this.failedUntil.delete(jobId);
    this.cache.delete(jobId);
    this.cache.set(jobId, { context, covers: Math.max(attempt, context.attempt) });
    if (this.cache.size > MAX_CONTEXTS) this.cache.delete(this.cache.keys().next().value as string);
    return context;
  }
}
