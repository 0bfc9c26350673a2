import { Inject, Injectable } from '@nestjs/common';
import {
  EvaluationCase,
  EvaluationCaseResult,
  evaluationCaseResultSchema,
  EvaluationRecord,
  evaluationRecordSchema,
} from '@hounsfield/contracts';
import Redis from 'ioredis';
import { z } from 'zod';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';

/** A planned case: its id, defect class and position (which seeds its sampling). */
export type PlannedCase = Pick<EvaluationCase, 'caseId' | 'defectClass' | 'index'>;
const plannedCaseSchema = z.object({ caseId: z.string(), defectClass: z.string(), index: z.number().int() }).strict();

export const listPositionSchema = z.object({ score: z.number(), id: z.string() }).strict();
export type ListPosition = z.infer<typeof listPositionSchema>;

/** The first plan wins: a later one (another shard, a retry) leaves the stored list as it is. */
const SAVE_PLAN = `
if redis.call('HLEN', KEYS[1]) > 0 then return {0, redis.call('HLEN', KEYS[1])} end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {1, redis.call('HLEN', KEYS[1])}
`;

/** Deletes the shard claim only if `token` still holds it (a claim that expired and was taken is left alone). */
const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Evaluation runs in Redis: the record (JSON), the planned cases and the per-case results (hashes
 * keyed by case id, so a redelivered case overwrites its result and never counts twice), and the
 * set of unfinished runs the reconciler visits.
 */
@Injectable()
export class EvaluationRepository {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EVALUATION_CONFIG) config: EvaluationConfig,
  ) {
    this.prefix = `${config.HOUNSFIELD_REDIS_PREFIX}eval:`;
  }

  private key(id: string, part?: 'plan' | 'results' | 'shard-claim'): string {
    return part ? `${this.prefix}${id}:${part}` : `${this.prefix}${id}`;
  }

  private get activeKey(): string {
    return `${this.prefix}active`;
  }

  /** Every evaluation, and each owner's, by creation time (for listing newest first). */
  private listKey(owner?: string): string {
    return owner === undefined ? `${this.prefix}all` : `${this.prefix}owner:${owner}`;
  }

  async create(record: EvaluationRecord): Promise<boolean> {
    const created = await this.redis.set(this.key(record.id), JSON.stringify(record), 'NX');
    if (created) {
      const score = Date.parse(record.createdAt);
      const multi = this.redis.multi().sadd(this.activeKey, record.id).zadd(this.listKey(), score, record.id);
      if (record.owner) multi.zadd(this.listKey(record.owner), score, record.id);
      await multi.exec();
    }
    return created === 'OK';
  }

  /** One page of ids, newest first, after `after` (the last position of the previous page). */
  async page(owner: string | undefined, limit: number, after?: ListPosition): Promise<{ ids: string[]; next?: ListPosition }> {
    // Inclusive of the cursor's score; ties (same millisecond) order by id, descending, like ZREVRANGE.
    const flat = await this.redis.zrevrangebyscore(this.listKey(owner), after ? String(after.score) : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 64);
    const entries: ListPosition[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i], score: Number(flat[i + 1]) });
    const fresh = entries.filter((e) => !after || e.score < after.score || e.id < after.id).slice(0, limit);
    const more = fresh.length === limit && entries.length > fresh.length;
    return { ids: fresh.map((e) => e.id), ...(more ? { next: fresh[fresh.length - 1] } : {}) };
  }

  async get(id: string): Promise<EvaluationRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw === null ? undefined : evaluationRecordSchema.parse(JSON.parse(raw));
  }

  /** Replaces the record; a finished one leaves the reconciler's set. */
  async save(record: EvaluationRecord): Promise<void> {
    const multi = this.redis.multi().set(this.key(record.id), JSON.stringify(record));
    if (record.status === 'succeeded' || record.status === 'failed') multi.srem(this.activeKey, record.id);
    await multi.exec();
  }

  /**
   * Claims the right to submit shard jobs for `id` for `ttlMs` (the submitter that creates a run,
   * or the reconciler topping one up): whoever holds it reads the record afresh and submits, so two
   * of them never add shards for the same gap. A claim whose holder crashed expires.
   */
  async claimShards(id: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key(id, 'shard-claim'), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async releaseShards(id: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_CLAIM, 1, this.key(id, 'shard-claim'), token);
  }

  active(): Promise<string[]> {
    return this.redis.smembers(this.activeKey);
  }

  /** Stores the case list unless one is stored; returns whether this call stored it, and the total. */
  async savePlan(id: string, cases: PlannedCase[]): Promise<{ created: boolean; total: number }> {
    const args = cases.flatMap((c) => [c.caseId, JSON.stringify(c)]);
    const [created, total] = (await this.redis.eval(SAVE_PLAN, 1, this.key(id, 'plan'), ...args)) as [number, number];
    return { created: created === 1, total };
  }

  async plan(id: string): Promise<PlannedCase[]> {
    const raw = await this.redis.hgetall(this.key(id, 'plan'));
    return Object.values(raw)
      .map((value) => plannedCaseSchema.parse(JSON.parse(value)))
      .sort((a, b) => a.index - b.index);
  }

  async planned(id: string, caseId: string): Promise<PlannedCase | undefined> {
    const raw = await this.redis.hget(this.key(id, 'plan'), caseId);
    return raw === null ? undefined : plannedCaseSchema.parse(JSON.parse(raw));
  }

  /** Stores (or overwrites) a case's result; returns how many cases have one. */
  async saveResult(result: EvaluationCaseResult): Promise<number> {
    const replies = await this.redis
      .multi()
      .hset(this.key(result.evaluationId, 'results'), result.caseId, JSON.stringify(result))
      .hlen(this.key(result.evaluationId, 'results'))
      .exec();
    const [error, done] = replies?.[1] ?? [new Error('no reply'), 0];
    if (error) throw error;
    return Number(done);
  }

  doneCount(id: string): Promise<number> {
    return this.redis.hlen(this.key(id, 'results'));
  }

  async results(id: string): Promise<EvaluationCaseResult[]> {
    const raw = await this.redis.hgetall(this.key(id, 'results'));
    return Object.values(raw).map((value) => evaluationCaseResultSchema.parse(JSON.parse(value)));
  }

  async result(id: string, caseId: string): Promise<EvaluationCaseResult | undefined> {
    const raw = await this.redis.hget(this.key(id, 'results'), caseId);
    return raw === null ? undefined : evaluationCaseResultSchema.parse(JSON.parse(raw));
  }

  async resultIds(id: string): Promise<Set<string>> {
    return new Set(await this.redis.hkeys(this.key(id, 'results')));
  }
}
