import { Inject, Injectable } from '@nestjs/common';
import { REDIS } from '@hounsfield/runtime';
import Redis from 'ioredis';
import { z } from 'zod';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';

/** A committed segment: its object's first `bytes` hold `lines` lines, seq `firstSeq` onwards. */
export const storedSegmentSchema = z
  .object({
    index: z.number().int().min(0),
    firstSeq: z.number().int().min(0),
    lines: z.number().int().min(0),
    bytes: z.number().int().min(0),
    closed: z.boolean(),
  })
  .strict();
export type StoredSegment = z.infer<typeof storedSegmentSchema>;

/** What the latest commit said about the whole attempt. */
export const storedAttemptSchema = z
  .object({
    attempt: z.number().int().min(1),
    droppedBefore: z.number().int().min(1),
    final: z.boolean(),
    maxBytes: z.number().int().min(1),
    capturedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
export type StoredAttempt = z.infer<typeof storedAttemptSchema>;

/**
 * The index of stored attempt logs in Redis: per job a hash of attempts, per attempt a hash of
 * segments, and one sorted set of jobs by the time their logs expire. A single worker commits an
 * attempt's segments one after the other, so no two writes to one attempt race.
 */
@Injectable()
export class LogRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CHECKPOINTS_CONFIG) config: CheckpointsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}logs:`;
  }

  private attemptsKey = (jobId: string) => `${this.p}att:${jobId}`;
  private segmentsKey = (jobId: string, attempt: number) => `${this.p}seg:${jobId}:${attempt}`;
  private expiryKey = () => `${this.p}expiry`;

  async attempts(jobId: string): Promise<StoredAttempt[]> {
    const raw = await this.redis.hvals(this.attemptsKey(jobId));
    return raw.map((value) => storedAttemptSchema.parse(JSON.parse(value))).sort((a, b) => a.attempt - b.attempt);
  }

  /** The attempt's segments, oldest first. */
  async segments(jobId: string, attempt: number): Promise<StoredSegment[]> {
    const raw = await this.redis.hvals(this.segmentsKey(jobId, attempt));
    return raw.map((value) => storedSegmentSchema.parse(JSON.parse(value))).sort((a, b) => a.index - b.index);
  }

  /**
   * Records a committed segment and the attempt's state, forgets the segments rotation dropped
   * (returned, so their objects can be deleted) and moves the job's expiry to `expiresAt`. A
   * segment never shrinks: a stale commit (a re-adopting agent repeating itself) keeps the larger.
   */
  async commit(jobId: string, segment: StoredSegment, attempt: StoredAttempt, expiresAt: number): Promise<number[]> {
    const segmentsKey = this.segmentsKey(jobId, attempt.attempt);
    const [previous, indexes] = await Promise.all([this.redis.hget(segmentsKey, String(segment.index)), this.redis.hkeys(segmentsKey)]);
    const kept = previous === null ? undefined : storedSegmentSchema.parse(JSON.parse(previous));
    const dropped = indexes.map(Number).filter((index) => index >= 1 && index < attempt.droppedBefore && index !== segment.index);
    const multi = this.redis.multi();
    if (kept === undefined || kept.bytes <= segment.bytes) multi.hset(segmentsKey, String(segment.index), JSON.stringify(segment));
    if (dropped.length > 0) multi.hdel(segmentsKey, ...dropped.map(String));
    multi.hset(this.attemptsKey(jobId), String(attempt.attempt), JSON.stringify(attempt));
    multi.zadd(this.expiryKey(), expiresAt, jobId);
    await multi.exec();
    return dropped;
  }

  /** Jobs whose logs expired by `now` (at most `limit`). */
  expired(now: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.expiryKey(), '-inf', now, 'LIMIT', 0, limit);
  }

  /** Forgets every log of the job (after its objects were deleted). */
  async forget(jobId: string): Promise<void> {
    const attempts = await this.redis.hkeys(this.attemptsKey(jobId));
    await this.redis
      .multi()
      .del(this.attemptsKey(jobId), ...attempts.map((attempt) => this.segmentsKey(jobId, Number(attempt))))
      .zrem(this.expiryKey(), jobId)
      .exec();
  }
}
