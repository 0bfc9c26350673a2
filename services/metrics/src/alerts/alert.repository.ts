import { Inject, Injectable } from '@nestjs/common';
import { AlertEvent, alertEventSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { ALERT_LUA } from './alert.lua';

export type AlertOutcome = 'fired' | 'updated' | 'resolved' | 'none';

/** The latest state of every alert of a job, in Redis (kept as long as the job's stored series). */
@Injectable()
export class AlertRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}metrics:alerts:`;
    this.redis.defineCommand('hfAlert', { numberOfKeys: 1, lua: ALERT_LUA });
  }

  fire(alert: AlertEvent): Promise<{ outcome: AlertOutcome; alert?: AlertEvent }> {
    return this.change('fire', alert.jobId, alert.alertId, alert);
  }

  resolve(jobId: string, alertId: string, fields: Pick<AlertEvent, 'summary' | 'advice' | 'at'> & { step?: number }): Promise<{ outcome: AlertOutcome; alert?: AlertEvent }> {
    return this.change('resolve', jobId, alertId, fields);
  }

  /** Every alert of the job, oldest first. */
  async list(jobId: string): Promise<AlertEvent[]> {
    const raw = await this.redis.hvals(this.p + jobId);
    return raw.map((value) => alertEventSchema.parse(JSON.parse(value))).sort((a, b) => a.firedAt.localeCompare(b.firedAt) || a.alertId.localeCompare(b.alertId));
  }

  private async change(op: 'fire' | 'resolve', jobId: string, alertId: string, payload: unknown): Promise<{ outcome: AlertOutcome; alert?: AlertEvent }> {
    const ttl = String(Math.ceil(this.config.HOUNSFIELD_METRICS_RETENTION_SECONDS));
    const command = (this.redis as unknown as { hfAlert: (...args: string[]) => Promise<[AlertOutcome, string]> }).hfAlert;
    const [outcome, stored] = await command.call(this.redis, this.p + jobId, op, alertId, ttl, JSON.stringify(payload));
    return { outcome, alert: stored ? alertEventSchema.parse(JSON.parse(stored)) : undefined };
  }
}
