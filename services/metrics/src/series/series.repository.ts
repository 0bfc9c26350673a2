import { Inject, Injectable } from '@nestjs/common';
import { MetricPoint, MetricSeries, MetricSeriesRequest } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { REDIS } from '../redis.provider';
import { SERIES_APPEND_LUA } from './series-append.lua';

/** One report of one metric, as it goes to the store. */
export interface SeriesReport {
  attempt: number;
  seq: number;
  step: number;
  /** NaN and ±Inf are counted in the bucket, not averaged. */
  value: number;
  atMs: number;
}

export interface SeriesAppend {
  jobId: string;
  name: string;
  reports: SeriesReport[];
}

const BUCKET = /^(\d+)\|(\d+)\|(\d+)\|([^|]*)\|([^|]*)\|([^|]*)\|(\d+)\|(\d+)$/;

function finiteOrNull(text: string): number | null {
  return text === '' ? null : Number(text);
}

/** Parses a stored bucket (see the Lua script for the layout). */
export function decodeBucket(raw: string): MetricPoint {
  const m = BUCKET.exec(raw);
  if (!m) throw new Error(`malformed stored bucket ${JSON.stringify(raw)}`);
  const count = Number(m[7]);
  const nonFinite = Number(m[8]);
  const finite = count - nonFinite;
  return {
    attempt: Number(m[1]),
    step: Number(m[2]),
    at: new Date(Number(m[3])).toISOString(),
    value: finite > 0 ? Number(m[4]) / finite : null,
    min: finiteOrNull(m[5]),
    max: finiteOrNull(m[6]),
    count,
    nonFinite,
  };
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
  }

  private seriesKey = (jobId: string, name: string) => `${this.p}series:${jobId}:${name}`;
  private namesKey = (jobId: string) => `${this.p}series-names:${jobId}`;

  /** Appends to many series in one round trip; returns how many series were refused (job over its limit). */
  async append(appends: SeriesAppend[]): Promise<number> {
    if (appends.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    const command = (pipeline as unknown as { hfSeriesAppend: (...args: string[]) => unknown }).hfSeriesAppend;
    for (const { jobId, name, reports } of appends) {
      const args = [
        this.seriesKey(jobId, name),
        this.namesKey(jobId),
        name,
        String(this.config.HOUNSFIELD_METRICS_POINTS_PER_SERIES),
        String(this.config.HOUNSFIELD_METRICS_SERIES_PER_JOB),
        String(Math.ceil(this.config.HOUNSFIELD_METRICS_RETENTION_SECONDS)),
      ];
      for (const r of reports) {
        args.push(String(r.attempt), String(r.seq), String(r.step), Number.isFinite(r.value) ? String(r.value) : '', String(r.atMs));
      }
      command.apply(pipeline, args);
    }
    let refused = 0;
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      if (reply === -1) refused += 1;
    }
    return refused;
  }

  async read(request: MetricSeriesRequest): Promise<MetricSeries[]> {
    const stored = await this.redis.smembers(this.namesKey(request.jobId));
    const wanted = request.names ? stored.filter((name) => request.names?.includes(name)) : stored;
    wanted.sort();
    const pipeline = this.redis.pipeline();
    for (const name of wanted) pipeline.hgetall(this.seriesKey(request.jobId, name));
    const replies = (await pipeline.exec()) ?? [];
    return wanted.map((name, i) => {
      const [error, reply] = replies[i];
      if (error) throw error;
      const hash = reply as Record<string, string>;
      const points = Object.entries(hash)
        .filter(([field]) => !field.startsWith('_'))
        .map(([field, raw]) => ({ bucket: Number(field), point: decodeBucket(raw) }))
        .filter(({ point }) => (request.fromStep === undefined || point.step >= request.fromStep) && (request.toStep === undefined || point.step <= request.toStep))
        .sort((a, b) => a.bucket - b.bucket)
        .map(({ point }) => point);
      return { name, stride: Number(hash._stride ?? 1), points };
    });
  }
}
