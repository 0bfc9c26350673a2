import { Inject, Injectable } from '@nestjs/common';
import { MetricPoint, MetricSeries, MetricSeriesRequest } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { SERIES_APPEND_LUA, SERIES_COMPACT_LUA } from './series-append.lua';
import { compactBuckets, decodeRecord } from './series-record';

/** A batch's reports of one job, in the stored form (see series-record.ts), with the escaped series names they use. */
export interface JobSeriesAppend {
  jobId: string;
  names: Set<string>;
  reports: string[];
}

/** Downsampled metric series per job in Redis (see SERIES_APPEND_LUA), read back for the API. */
@Injectable()
export class SeriesRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}metrics:`;
    this.redis.defineCommand('hfSeriesAppend', { numberOfKeys: 2, lua: SERIES_APPEND_LUA });
    this.redis.defineCommand('hfSeriesCompact', { numberOfKeys: 1, lua: SERIES_COMPACT_LUA });
  }

  // The job id in braces is a Redis Cluster hash tag: a job's two keys share a slot, as the script needs.
  private bucketsKey = (jobId: string) => `${this.p}series:{${jobId}}`;
  private namesKey = (jobId: string) => `${this.p}series-names:{${jobId}}`;

  private get ttlSeconds(): number {
    return Math.ceil(this.config.HOUNSFIELD_METRICS_RETENTION_SECONDS);
  }

  /**
   * Appends a batch in one round trip, one script call per job, then compacts the jobs that went
   * over their point budget; returns how many values were dropped (jobs over their series limit).
   */
  async append(appends: JobSeriesAppend[]): Promise<number> {
    if (appends.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    const command = (pipeline as unknown as { hfSeriesAppend: (...args: (string | number)[]) => unknown }).hfSeriesAppend;
    for (const { jobId, names, reports } of appends) {
      command.call(pipeline, this.bucketsKey(jobId), this.namesKey(jobId), this.config.HOUNSFIELD_METRICS_SERIES_PER_JOB, this.ttlSeconds, names.size, ...names, reports.join('\n'));
    }
    let dropped = 0;
    const full: string[] = [];
    ((await pipeline.exec()) ?? []).forEach(([error, reply], i) => {
      if (error) throw error;
      const [droppedValues, buckets] = reply as [number, number];
      dropped += droppedValues;
      if (buckets > this.config.HOUNSFIELD_METRICS_POINTS_PER_SERIES) full.push(appends[i].jobId);
    });
    for (const jobId of full) await this.compact(jobId);
    return dropped;
  }

  /** Merges a job's buckets down to the budget; a report appended meanwhile makes it wait for the next append. */
  private async compact(jobId: string): Promise<void> {
    const key = this.bucketsKey(jobId);
    const stored = await this.redis.hgetall(key);
    const { stride, last, buckets } = compactBuckets(stored, this.config.HOUNSFIELD_METRICS_POINTS_PER_SERIES);
    const command = (this.redis as unknown as { hfSeriesCompact: (...args: (string | number)[]) => Promise<number> }).hfSeriesCompact;
    await command.call(this.redis, key, stored._seq ?? '', stride, last, this.ttlSeconds, ...buckets.flat());
  }

  /** The job's series (those named, or all), ordered by name, points by step. */
  async read(request: MetricSeriesRequest): Promise<MetricSeries[]> {
    const hash = await this.redis.hgetall(this.bucketsKey(request.jobId));
    const stride = Number(hash._stride ?? 1);
    const buckets = Object.entries(hash)
      .filter(([field]) => !field.startsWith('_'))
      .map(([field, raw]) => [Number(field), raw] as const)
      .sort((a, b) => a[0] - b[0]);
    const series = new Map<string, MetricPoint[]>();
    for (const [, raw] of buckets) {
      for (const [name, point] of decodeRecord(raw)) {
        if (request.names && !request.names.includes(name)) continue;
        if ((request.fromStep !== undefined && point.step < request.fromStep) || (request.toStep !== undefined && point.step > request.toStep)) continue;
        const points = series.get(name);
        if (points) points.push(point);
        else series.set(name, [point]);
      }
    }
    return [...series.keys()].sort().map((name) => ({ name, stride, points: series.get(name) ?? [] }));
  }
}
