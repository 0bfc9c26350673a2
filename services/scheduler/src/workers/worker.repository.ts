import { Inject, Injectable } from '@nestjs/common';
import { WorkerHeartbeat, workerHeartbeatSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { z } from 'zod';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { REDIS } from '../redis.provider';
import { WorkerState } from './worker.model';

const storedWorkerSchema = z.object({ heartbeat: workerHeartbeatSchema, lastSeenMs: z.number() });

/** Worker inventory from heartbeats; liveness is the time of the last heartbeat. */
@Injectable()
export class WorkerRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
  ) {
    this.p = config.HOUNSFIELD_REDIS_PREFIX;
  }

  private workerKey = (id: string) => `${this.p}worker:${id}`;
  private readonly liveKey = () => `${this.p}workers`;

  /**
   * Stores a heartbeat unless a newer one is already stored (events may arrive late after a
   * restart). Returns whether the worker was unknown before (a registration).
   */
  async recordHeartbeat(heartbeat: WorkerHeartbeat, receivedMs: number): Promise<{ registered: boolean; stored: boolean }> {
    const existing = await this.get(heartbeat.workerId);
    const sentMs = Date.parse(heartbeat.at);
    if (existing && Date.parse(existing.heartbeat.at) >= sentMs) return { registered: false, stored: false };
    // Liveness counts from when the worker sent it, bounded by when it arrived (clock skew).
    const lastSeenMs = Math.min(receivedMs, Number.isFinite(sentMs) ? Math.max(sentMs, receivedMs - 60_000) : receivedMs);
    const state: WorkerState = { heartbeat, lastSeenMs };
    await this.redis.multi().set(this.workerKey(heartbeat.workerId), JSON.stringify(state)).zadd(this.liveKey(), lastSeenMs, heartbeat.workerId).exec();
    return { registered: !existing, stored: true };
  }

  async get(workerId: string): Promise<WorkerState | undefined> {
    const raw = await this.redis.get(this.workerKey(workerId));
    return raw ? storedWorkerSchema.parse(JSON.parse(raw)) : undefined;
  }

  /** Workers heard from within the TTL, in one round trip for the records (stored validated). */
  async live(nowMs: number, ttlMs: number): Promise<WorkerState[]> {
    const ids = await this.redis.zrangebyscore(this.liveKey(), nowMs - ttlMs, '+inf');
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map(this.workerKey));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as WorkerState);
  }

  /** Workers silent for longer than the TTL. */
  expired(nowMs: number, ttlMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.liveKey(), '-inf', `(${nowMs - ttlMs}`);
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().zrem(this.liveKey(), workerId).del(this.workerKey(workerId)).exec();
  }
}
