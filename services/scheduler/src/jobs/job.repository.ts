import { Inject, Injectable } from '@nestjs/common';
import { JobNoticeEvent, jobNoticeEventSchema, JobRecord, JobState, ProgressEvent, progressEventSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { SCHEDULER_CONFIG, SchedulerConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { awaitingEnvironment } from '../scheduling/placement';
import { JOB_COMMIT_LUA, QUEUE_POSITION_LUA } from './job-commit.lua';

/** Notices kept per job (the newest). */
const MAX_NOTICES = 50;

/** A message to publish after the state change that caused it (transactional outbox). */
export interface OutboxEntry {
  msgId: string;
  subject: string;
  payload: unknown;
  /** Publication order; set when the entry is stored, so events of one job leave in order. */
  order?: number;
}

let lastOrder = 0;

/** Strictly increasing within a process, and following the clock across restarts. */
function nextOrder(): number {
  lastOrder = Math.max(lastOrder + 1, Date.now() * 1000);
  return lastOrder;
}

function serialiseEntry(entry: OutboxEntry): string {
  return JSON.stringify({ ...entry, order: entry.order ?? nextOrder() });
}

export interface CommitOptions {
  expectedAttempt: number;
  allowedStates: JobState[];
  /** Keep (or put) the job in the queue with this score; remove it when absent. */
  queueScore?: number;
  active: boolean;
  /**
   * GPU leases to claim or release: on `workerId`, and for a multi-node job on the workers of its
   * other nodes too (`nodes`, node 0 first, which then replaces `workerId`/`gpuIndices`).
   */
  lease?: { op: 'claim' | 'release'; workerId: string; token: string; gpuIndices?: number[]; nodes?: { workerId: string; gpuIndices: number[] }[] };
  /** Apply only while the job's environment build is this one (see JobEnvironmentStatus.buildId). */
  expectedEnvironmentBuild?: string;
  outbox?: OutboxEntry[];
}

/** Where a job list stopped: the last job's creation time (ms) and id. */
export interface JobPosition {
  score: number;
  id: string;
}

export type CommitResult = 'ok' | 'stale' | 'busy' | 'missing';

/**
 * Which queue a job waits in: its GPU count (0 = CPU work). A GPU job in its environment phase
 * waits in the CPU queue until its environment is ready (the build is CPU work), then in its own.
 */
export function queueSizeOf(job: JobRecord): number {
  return awaitingEnvironment(job) ? 0 : job.spec.resources.gpus;
}

/** Upper bound of GPUs per job (the spec's own limit). */
export const MAX_JOB_GPUS = 64;

/** Priority first (higher earlier), then age (older earlier): one sortable number. */
export function queueScore(priority: number, createdAt: string): number {
  return (100 - priority) * 1e13 + Date.parse(createdAt);
}

/** Jobs, the queue, leases and the outbox in Redis. Every state change goes through `commit`. */
@Injectable()
export class JobRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER_CONFIG) config: SchedulerConfig,
  ) {
    this.p = config.HOUNSFIELD_REDIS_PREFIX;
    // The number of keys varies with the nodes of a multi-node job: it is the first argument.
    this.redis.defineCommand('hfJobCommit', { lua: JOB_COMMIT_LUA });
    this.redis.defineCommand('hfQueuePosition', { numberOfKeys: MAX_JOB_GPUS + 1, lua: QUEUE_POSITION_LUA });
  }

  private jobKey = (id: string) => `${this.p}job:${id}`;
  private progressKey = (id: string) => `${this.p}progress:${id}`;
  private noticesKey = (id: string) => `${this.p}notices:${id}`;
  leaseKey = (workerId: string) => `${this.p}lease:${workerId}`;
  /**
   * One queue per GPU count (0 = CPU jobs), each ordered by priority then age. A scheduling pass
   * then reads only the queues of sizes that can fit now and merges their heads in order, so a
   * long queue of jobs too large for the free GPUs costs nothing.
   */
  private readonly queueKey = (size: number) => `${this.p}queue:${size}`;
  private readonly allKey = () => `${this.p}jobs`;
  /** One owner's jobs by age, so a user's list never scans everybody's. */
  private readonly ownerKey = (owner: string) => `${this.p}jobs:owner:${owner}`;
  private readonly activeKey = () => `${this.p}active`;
  /** Active job id → the worker it is on ('' before placement); kept with `active` by the commit script. */
  private readonly activeWorkersKey = () => `${this.p}active:workers`;
  private readonly outboxKey = () => `${this.p}outbox`;

  /** Stores a new queued job and its first outbox entries in one transaction. */
  async create(job: JobRecord, outbox: OutboxEntry[]): Promise<void> {
    const multi = this.redis
      .multi()
      .set(this.jobKey(job.id), JSON.stringify(job), 'NX')
      .zadd(this.queueKey(queueSizeOf(job)), queueScore(job.spec.priority, job.createdAt), job.id)
      .zadd(this.allKey(), Date.parse(job.createdAt), job.id);
    if (job.owner !== undefined) multi.zadd(this.ownerKey(job.owner), Date.parse(job.createdAt), job.id);
    for (const entry of outbox) multi.hset(this.outboxKey(), entry.msgId, serialiseEntry(entry));
    await multi.exec();
  }

  /** Records are written only here, after validation, so reading them back trusts them. */
  async get(id: string): Promise<JobRecord | undefined> {
    const raw = await this.redis.get(this.jobKey(id));
    return raw ? (JSON.parse(raw) as JobRecord) : undefined;
  }

  /** Many records in one round trip, in the order asked. Records are ours, so no re-validation on this hot path. */
  async getMany(ids: string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map(this.jobKey));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as JobRecord);
  }

  /**
   * Newest first, one page: jobs older than `after` (a position returned as `next`), of one owner
   * and in the given states when asked. A page scans at most `scanLimit` ids, so a rare state cannot make one
   * call read every job; it may then be short, and `next` continues the scan.
   */
  async page(options: { states?: JobState[]; owner?: string; limit: number; after?: JobPosition; scanLimit?: number }): Promise<{ jobs: JobRecord[]; next?: JobPosition }> {
    const key = options.owner === undefined ? this.allKey() : this.ownerKey(options.owner);
    const scanLimit = options.scanLimit ?? 5000;
    const jobs: JobRecord[] = [];
    let after = options.after;
    let scanned = 0;
    const batch = 500;
    while (jobs.length < options.limit && scanned < scanLimit) {
      // Inclusive of the cursor's score; ties (same millisecond) order by id, descending, like ZREVRANGE.
      const flat = await this.redis.zrevrangebyscore(key, after ? String(after.score) : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, batch);
      const entries: JobPosition[] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i], score: Number(flat[i + 1]) });
      const cursor = after;
      const fresh = entries.filter((e) => !cursor || e.score < cursor.score || e.id < cursor.id);
      if (fresh.length === 0) return { jobs };
      const records = new Map((await this.getMany(fresh.map((e) => e.id))).map((job) => [job.id, job]));
      let consumed = 0;
      for (const entry of fresh) {
        after = entry;
        scanned += 1;
        consumed += 1;
        const job = records.get(entry.id);
        if (job && (!options.states || options.states.includes(job.state))) jobs.push(job);
        if (jobs.length === options.limit || scanned >= scanLimit) break;
      }
      if (entries.length < batch && consumed === fresh.length) return { jobs };
    }
    return { jobs, next: after };
  }

  /** Queued job ids of one size with their scores, in order, `start`..`stop` inclusive. */
  async queuedPage(size: number, start: number, stop: number): Promise<{ id: string; score: number }[]> {
    const flat = await this.redis.zrange(this.queueKey(size), start, stop, 'WITHSCORES');
    const page: { id: string; score: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) page.push({ id: flat[i], score: Number(flat[i + 1]) });
    return page;
  }

  /** Number of queued jobs per size 0..MAX_JOB_GPUS, in one round trip. */
  async queueLengths(): Promise<number[]> {
    const pipeline = this.redis.pipeline();
    for (let size = 0; size <= MAX_JOB_GPUS; size += 1) pipeline.zcard(this.queueKey(size));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([, count]) => Number(count ?? 0));
  }

  activeIds(): Promise<string[]> {
    return this.redis.smembers(this.activeKey());
  }

  /**
   * Active job id → the workers it is on (node 0 first; none before placement), from the small
   * job → worker hash rather than the records (a scheduling pass counts jobs per worker from it).
   * Jobs made active before the hash existed are filled in from their records once.
   */
  async activeWorkersOf(): Promise<Map<string, string[]>> {
    const [[, ids], [, byJob]] = ((await this.redis.multi().smembers(this.activeKey()).hgetall(this.activeWorkersKey()).exec()) ?? [
      [null, []],
      [null, {}],
    ]) as [[unknown, string[]], [unknown, Record<string, string>]];
    const missing = ids.filter((id) => !(id in byJob));
    if (missing.length > 0) {
      const multi = this.redis.multi();
      for (const job of await this.getMany(missing)) {
        byJob[job.id] = job.workerId ?? '';
        multi.hset(this.activeWorkersKey(), job.id, byJob[job.id]);
      }
      await multi.exec();
    }
    return new Map(ids.map((id) => [id, (byJob[id] ?? '').split(',').filter(Boolean)]));
  }

  /** 1-based position in the queue, or undefined when not queued (one server-side script). */
  async queuePosition(job: JobRecord): Promise<number | undefined> {
    const keys = Array.from({ length: MAX_JOB_GPUS + 1 }, (_, size) => this.queueKey(size));
    const run = (this.redis as unknown as { hfQueuePosition: (...a: (string | number)[]) => Promise<number> }).hfQueuePosition;
    const position = await run.call(this.redis, ...keys, queueSizeOf(job), job.id);
    return position > 0 ? position : undefined;
  }

  async commit(job: JobRecord, options: CommitOptions): Promise<CommitResult> {
    const lease = options.lease;
    const leaseNodes = lease?.nodes?.length ? lease.nodes : [{ workerId: lease?.workerId ?? '_none', gpuIndices: lease?.gpuIndices ?? [] }];
    const args = [
      String(options.expectedAttempt),
      options.allowedStates.join(','),
      JSON.stringify(job),
      options.queueScore === undefined ? '' : String(options.queueScore),
      options.active ? '1' : '0',
      lease?.op ?? 'none',
      lease?.token ?? '',
      leaseNodes.map((node) => node.gpuIndices.join(',')).join(';'),
      // The workers the job occupies: its placement (every node), or the worker building its environment.
      job.nodes?.length
        ? job.nodes.map((node) => node.workerId).join(',')
        : (job.workerId ?? (job.state === 'queued' && job.environment?.state === 'building' ? job.environment.workerId : '')),
      options.expectedEnvironmentBuild ?? '',
    ];
    for (const entry of options.outbox ?? []) args.push(entry.msgId, serialiseEntry(entry));
    const keys = [
      this.jobKey(job.id),
      this.queueKey(queueSizeOf(job)),
      this.activeKey(),
      this.leaseKey(leaseNodes[0].workerId),
      this.outboxKey(),
      this.activeWorkersKey(),
      ...leaseNodes.slice(1).map((node) => this.leaseKey(node.workerId)),
    ];
    const commit = (this.redis as unknown as { hfJobCommit: (...a: (string | number)[]) => Promise<CommitResult> }).hfJobCommit;
    return commit.call(this.redis, keys.length, ...keys, ...args);
  }

  /** Leases of many workers in one round trip. */
  async leasesOf(workerIds: string[]): Promise<Map<number, string>[]> {
    if (workerIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of workerIds) pipeline.hgetall(this.leaseKey(id));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([, raw]) => new Map(Object.entries((raw ?? {}) as Record<string, string>).map(([i, t]) => [Number(i), t])));
  }

  async leases(workerId: string): Promise<Map<number, string>> {
    const raw = await this.redis.hgetall(this.leaseKey(workerId));
    return new Map(Object.entries(raw).map(([index, token]) => [Number(index), token]));
  }

  async deleteLeases(workerId: string): Promise<void> {
    await this.redis.del(this.leaseKey(workerId));
  }

  async pendingOutbox(): Promise<OutboxEntry[]> {
    const raw = await this.redis.hvals(this.outboxKey());
    return raw.map((value) => JSON.parse(value) as OutboxEntry).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  async removeOutbox(...msgIds: string[]): Promise<void> {
    if (msgIds.length > 0) await this.redis.hdel(this.outboxKey(), ...msgIds);
  }

  /** Keeps only the newest progress report per job (reports of older attempts are dropped). */
  async saveProgress(event: ProgressEvent): Promise<void> {
    const key = this.progressKey(event.jobId);
    const current = await this.getProgress(event.jobId);
    if (current && (current.attempt > event.attempt || (current.attempt === event.attempt && current.seq >= event.seq))) return;
    await this.redis.set(key, JSON.stringify(event));
  }

  async getProgress(jobId: string): Promise<ProgressEvent | undefined> {
    const raw = await this.redis.get(this.progressKey(jobId));
    return raw ? progressEventSchema.parse(JSON.parse(raw)) : undefined;
  }

  /**
   * Keeps a job's newest notices (a sorted set by time: a redelivered notice is the same member,
   * so it is stored once), at most MAX_NOTICES.
   */
  async saveNotice(event: JobNoticeEvent): Promise<void> {
    const key = this.noticesKey(event.jobId);
    await this.redis
      .multi()
      .zadd(key, Date.parse(event.at) || Date.now(), JSON.stringify(event))
      .zremrangebyrank(key, 0, -(MAX_NOTICES + 1))
      .exec();
  }

  /** The job's notices, oldest first. */
  async getNotices(jobId: string): Promise<JobNoticeEvent[]> {
    const members = await this.redis.zrange(this.noticesKey(jobId), 0, -1);
    return members.map((raw) => jobNoticeEventSchema.parse(JSON.parse(raw)));
  }
}
