import { Inject, Injectable } from '@nestjs/common';
import { WorkerHeartbeat, workerHeartbeatSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { z } from 'zod';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { WorkerState } from './worker.model';

const storedWorkerSchema = z.object({ heartbeat: workerHeartbeatSchema, lastSeenMs: z.number() });

/**
 * What placement reads of a heartbeat: the GPUs, their free memory in whole GiB, foreign processes
 * and whether utilisation is above the busy threshold. Heartbeats that leave it unchanged do not
 * call for a scheduling pass (the periodic pass still runs).
 */
function capacitySignature(heartbeat: WorkerHeartbeat, busyPercent: number): string {
  return heartbeat.gpus
    .map((g) => [g.index, g.name, Math.floor((g.memoryTotalBytes - g.memoryUsedBytes) / 2 ** 30), g.foreignProcesses, g.utilizationPercent > busyPercent].join(':'))
    .join('|');
}

/** Worker inventory from heartbeats; liveness is the time of the last heartbeat. */
@Injectable()
export class WorkerRepository {
  private readonly p: string;
  private readonly ttlMs: number;
  private readonly busyPercent: number;
  /** The last parsed record per worker, reused while the stored text is unchanged. */
  private readonly parsed = new Map<string, { raw: string; state: WorkerState }>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
  ) {
    this.p = config.HOUNSFIELD_REDIS_PREFIX;
    this.ttlMs = config.HOUNSFIELD_WORKER_TTL_SECONDS * 1000;
    this.busyPercent = config.HOUNSFIELD_BUSY_UTILIZATION_PERCENT;
  }

  private workerKey = (id: string) => `${this.p}worker:${id}`;
  private readonly liveKey = () => `${this.p}workers`;

  /**
   * Stores a heartbeat unless a newer one is already stored (events may arrive late after a
   * restart). Returns whether the worker was unknown before (a registration).
   */
  async recordHeartbeat(
    heartbeat: WorkerHeartbeat,
    receivedMs: number,
  ): Promise<{ registered: boolean; stored: boolean; capacityChanged: boolean }> {
    const existing = await this.get(heartbeat.workerId);
    const sentMs = Date.parse(heartbeat.at);
    if (existing && Date.parse(existing.heartbeat.at) >= sentMs) return { registered: false, stored: false, capacityChanged: false };
    // Liveness counts from when the worker sent it, bounded by when it arrived (clock skew).
    const lastSeenMs = Math.min(receivedMs, Number.isFinite(sentMs) ? Math.max(sentMs, receivedMs - 60_000) : receivedMs);
    const state: WorkerState = { heartbeat, lastSeenMs };
    await this.redis.multi().set(this.workerKey(heartbeat.workerId), JSON.stringify(state)).zadd(this.liveKey(), lastSeenMs, heartbeat.workerId).exec();
    const capacityChanged =
      !existing || receivedMs - existing.lastSeenMs > this.ttlMs / 2 || capacitySignature(existing.heartbeat, this.busyPercent) !== capacitySignature(heartbeat, this.busyPercent);
    return { registered: !existing, stored: true, capacityChanged };
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
    const states: WorkerState[] = [];
    raws.forEach((raw, i) => {
      if (raw === null) return;
      const cached = this.parsed.get(ids[i]);
      if (cached?.raw === raw) return states.push(cached.state);
      const state = JSON.parse(raw) as WorkerState;
      this.parsed.set(ids[i], { raw, state });
      states.push(state);
    });
    return states;
  }

  /** Workers silent for longer than the TTL. */
  expired(nowMs: number, ttlMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.liveKey(), '-inf', `(${nowMs - ttlMs}`);
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().zrem(this.liveKey(), workerId).del(this.workerKey(workerId)).exec();
    this.parsed.delete(workerId);
  }
}
