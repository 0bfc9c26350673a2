import { Inject, Injectable } from '@nestjs/common';
import { isTerminalJobState, JobState, JobStateEvent } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { JOB_STATE_LUA } from './job-state.lua';

/** A job's state as the metrics service last saw it, with the times of its current attempt. */
export interface TrackedJob {
  state: JobState;
  attempt: number;
  /** Time of the last state change (ms, scheduler clock). */
  at: number;
  queuedAt?: number;
  assignedAt?: number;
}

export interface StateChange {
  event: JobStateEvent;
  applied: boolean;
  previous?: TrackedJob;
}

/** Every job's latest state (from the scheduler's state events), kept in Redis so a restart loses nothing. */
@Injectable()
export class JobStateRepository {
  private readonly key: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_CONFIG) config: MetricsConfig,
  ) {
    this.key = `${config.HOUNSFIELD_REDIS_PREFIX}metrics:jobs`;
    this.redis.defineCommand('hfMetricsJobState', { numberOfKeys: 1, lua: JOB_STATE_LUA });
  }

  /** Applies the events in order, in one round trip. */
  async apply(events: JobStateEvent[]): Promise<StateChange[]> {
    if (events.length === 0) return [];
    const pipeline = this.redis.pipeline();
    const command = (pipeline as unknown as { hfMetricsJobState: (...args: string[]) => unknown }).hfMetricsJobState;
    for (const event of events) command.call(pipeline, this.key, event.jobId, event.state, String(event.attempt), String(Date.parse(event.at)));
    const results = (await pipeline.exec()) ?? [];
    return events.map((event, i) => {
      const [error, reply] = results[i] ?? [new Error('no reply')];
      if (error) throw error;
      const [applied, previous] = reply as [number, string];
      return { event, applied: applied === 1, previous: previous ? (JSON.parse(previous) as TrackedJob) : undefined };
    });
  }

  async all(): Promise<Map<string, TrackedJob>> {
    const raw = await this.redis.hgetall(this.key);
    return new Map(Object.entries(raw).map(([id, value]) => [id, JSON.parse(value) as TrackedJob]));
  }

  /** Forgets jobs that ended before `cutoffMs`; returns their ids. */
  async pruneFinished(cutoffMs: number): Promise<string[]> {
    const gone = [...(await this.all())].filter(([, job]) => isTerminalJobState(job.state) && job.at < cutoffMs).map(([id]) => id);
    if (gone.length > 0) await this.redis.hdel(this.key, ...gone);
    return gone;
  }
}
