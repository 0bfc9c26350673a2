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
  /** Lines in stream order; consecutive reports of a bucket may be merged at `stride` (see MergedReports). */
  reports: string[];
  /** The stride the reports were merged at (1: none merged). */
  stride: number;
  /** Every report on its own line, for a store that cannot take the merged lines. */
  unmerged: () => string[];
}

type AppendReply = [dropped: number, buckets: number, stride: number, redo: number];

/** Strides remembered; the oldest is forgotten beyond it (its next batch is merely not merged). */
const MAX_STRIDES = 10_000;

/** Downsampled metric series per job in Redis (see SERIES_APPEND_LUA), read back for the API. */
@Injectable()
export class SeriesRepository {
  private readonly p: string;
  /** The stride of each job's buckets as the last store call found it. */
  private readonly strides = new Map<string, number>();

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

  /** The stride the job's buckets had at its last append (1 when not known), for merging its next reports. */
  strideOf(jobId: string): number {
    return this.strides.get(jobId) ?? 1;
  }

  private rememberStride(jobId: string, stride: number): void {
    this.strides.delete(jobId);
    this.strides.set(jobId, stride);
    if (this.strides.size > MAX_STRIDES) this.strides.delete(this.strides.keys().next().value as string);
  }

  /**
   * Appends a batch in one round trip, one script call per job (a second round trip for the rare
   * job whose merged lines the store refused), then compacts the jobs that went over their point
   * budget; returns how many values were dropped (jobs over their series limit).
   */
  async append(appends: JobSeriesAppend[]): Promise<number> {
    if (appends.length === 0) return 0;
    let dropped = 0;
    const full: string[] = [];
    const replies = await this.send(appends.map((a) => [a, a.reports, a.stride]));
    const redo = appends.filter((_, i) => replies[i][3] === 1);
    const redone = redo.length ? await this.send(redo.map((a) => [a, a.unmerged(), 1])) : [];
    const done = [...appends.map((a, i) => [a, replies[i]] as const).filter(([, r]) => r[3] !== 1), ...redo.map((a, i) => [a, redone[i]] as const)];
    for (const [{ jobId }, [droppedValues, buckets, stride, again]] of done) {
      if (again === 1) throw new Error(`the series store refused the single reports of job ${jobId}`);
      dropped += droppedValues;
      this.rememberStride(jobId, stride);
      if (buckets > this.config.HOUNSFIELD_METRICS_POINTS_PER_SERIES) full.push(jobId);
    }
    await Promise.all(full.map((jobId) => this.compact(jobId)));
    return dropped;
  }

  /** One script call per job, in one round trip. */
  private async send(calls: [JobSeriesAppend, string[], number][]): Promise<AppendReply[]> {
    const pipeline = this.redis.pipeline();
    const command = (pipeline as unknown as { hfSeriesAppend: (...args: (string | number)[]) => unknown }).hfSeriesAppend;
    for (const [{ jobId, names }, reports, stride] of calls) {
      command.call(pipeline, this.bucketsKey(jobId), this.namesKey(jobId), this.config.HOUNSFIELD_METRICS_SERIES_PER_JOB, this.ttlSeconds, stride, names.size, ...names, reports.join('\n'));
    }
    return ((await pipeline.exec()) ?? []).map(([error, reply]) => {
      if (error) throw error;
      return reply as AppendReply;
    });
  }

  /** Merges a job's buckets down to the budget; a report appended meanwhile makes it wait for the next append. */
  private async compact(jobId: string): Promise<void> {
    const key = this.bucketsKey(jobId);
    const stored = await this.redis.hgetall(key);
    const { stride, last, buckets } = compactBuckets(stored, this.config.HOUNSFIELD_METRICS_POINTS_PER_SERIES);
    const command = (this.redis as unknown as { hfSeriesCompact: (...args: (string | number)[]) => Promise<number> }).hfSeriesCompact;
    if ((await command.call(this.redis, key, stored._seq ?? '', stride, last, this.ttlSeconds, ...buckets.flat())) === 1) this.rememberStride(jobId, stride);
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
