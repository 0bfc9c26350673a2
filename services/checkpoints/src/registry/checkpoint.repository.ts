import { Inject, Injectable } from '@nestjs/common';
import { CheckpointRetention, checkpointRecordSchema, checkpointRetentionSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { z } from 'zod';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { COMMIT_LUA, PIN_LUA, RETIRE_LUA } from './registry.lua';

/** A committed checkpoint as stored: the record, its place in the job's order, and its bytes' prefix. */
export const storedCheckpointSchema = z.object({ record: checkpointRecordSchema, member: z.string(), prefix: z.string() }).strict();
export type StoredCheckpoint = z.infer<typeof storedCheckpointSchema>;

export type CommitOutcome = { kind: 'lost' } | { kind: 'ok'; latestId: string; supersededIds: string[] };

/** The member that orders a job's checkpoints: newest attempt first, then highest step (see registry.lua.ts). */
export function orderMember(attempt: number, step: number, id: string): string {
  return `${memberPrefix(attempt, step)}${id}`;
}

export function memberPrefix(attempt: number, step: number): string {
  return `${String(attempt).padStart(10, '0')}:${String(step).padStart(16, '0')}:`;
}

export function idOfMember(member: string): string {
  return member.slice(member.lastIndexOf(':') + 1);
}

interface RegistryCommands {
  hfCkptCommit(...args: (string | number)[]): Promise<string[]>;
  hfCkptRetire(...args: (string | number)[]): Promise<string[]>;
  hfCkptPin(...args: (string | number)[]): Promise<number>;
}

/** Committed checkpoints, their order per job, pins and the trash, in Redis. */
@Injectable()
export class CheckpointRepository {
  private readonly p: string;
  private readonly commands: RegistryCommands;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CHECKPOINTS_CONFIG) config: CheckpointsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}ckpt:`;
    redis.defineCommand('hfCkptCommit', { numberOfKeys: 6, lua: COMMIT_LUA });
    redis.defineCommand('hfCkptRetire', { numberOfKeys: 3, lua: RETIRE_LUA });
    redis.defineCommand('hfCkptPin', { numberOfKeys: 2, lua: PIN_LUA });
    this.commands = redis as unknown as RegistryCommands;
  }

  recordKey = (id: string) => `${this.p}rec:${id}`;
  indexKey = (jobId: string) => `${this.p}job:${jobId}`;
  private pinsKey = (jobId: string) => `${this.p}pins:${jobId}`;
  private trashKey = () => `${this.p}trash`;
  private policyKey = (jobId: string) => `${this.p}policy:${jobId}`;

  /**
   * Makes a verified upload the committed checkpoint `stored` in one step; a commit of the same
   * attempt and step replaces the older one. `uploadKeys` are the upload session's hash and the
   * open-uploads set (the commit closes the session).
   */
  async commit(stored: StoredCheckpoint, token: string, uploadKeys: { hash: string; open: string }, now = Date.now()): Promise<CommitOutcome> {
    const { record } = stored;
    const reply = await this.commands.hfCkptCommit(
      uploadKeys.hash,
      this.indexKey(record.jobId),
      this.recordKey(record.id),
      this.pinsKey(record.jobId),
      this.trashKey(),
      uploadKeys.open,
      token,
      stored.member,
      JSON.stringify(stored),
      now,
      memberPrefix(record.attempt, record.step),
      stored.prefix,
    );
    if (reply[0] !== 'ok') return { kind: 'lost' };
    return { kind: 'ok', latestId: idOfMember(reply[1]), supersededIds: reply.slice(2) };
  }

  async get(id: string): Promise<StoredCheckpoint | undefined> {
    const raw = await this.redis.get(this.recordKey(id));
    return raw === null ? undefined : storedCheckpointSchema.parse(JSON.parse(raw));
  }

  /** The job's committed checkpoints, newest (the latest) first. */
  async committed(jobId: string, limit?: number): Promise<StoredCheckpoint[]> {
    const members =
      limit === undefined
        ? await this.redis.zrevrangebylex(this.indexKey(jobId), '+', '-')
        : await this.redis.zrevrangebylex(this.indexKey(jobId), '+', '-', 'LIMIT', 0, limit);
    if (members.length === 0) return [];
    const raws = await this.redis.mget(members.map((m) => this.recordKey(idOfMember(m))));
    return raws.flatMap((raw) => (raw === null ? [] : [storedCheckpointSchema.parse(JSON.parse(raw))]));
  }

  /** One page of the job's committed checkpoints, newest first, after the member `after` (exclusive). */
  async committedPage(jobId: string, limit: number, after?: string): Promise<{ checkpoints: StoredCheckpoint[]; more: boolean }> {
    const members = await this.redis.zrevrangebylex(this.indexKey(jobId), after === undefined ? '+' : `(${after}`, '-', 'LIMIT', 0, limit + 1);
    const page = members.slice(0, limit);
    if (page.length === 0) return { checkpoints: [], more: false };
    const raws = await this.redis.mget(page.map((m) => this.recordKey(idOfMember(m))));
    return { checkpoints: raws.flatMap((raw) => (raw === null ? [] : [storedCheckpointSchema.parse(JSON.parse(raw))])), more: members.length > limit };
  }

  async latestMember(jobId: string): Promise<string | undefined> {
    const [member] = await this.redis.zrevrangebylex(this.indexKey(jobId), '+', '-', 'LIMIT', 0, 1);
    return member;
  }

  async isCommitted(stored: StoredCheckpoint): Promise<boolean> {
    return (await this.redis.zscore(this.indexKey(stored.record.jobId), stored.member)) !== null;
  }

  /** Pins a committed checkpoint until `until` (ms); false when it is no longer committed. */
  async pin(stored: StoredCheckpoint, until: number): Promise<boolean> {
    const { record } = stored;
    return (await this.commands.hfCkptPin(this.indexKey(record.jobId), this.pinsKey(record.jobId), stored.member, record.id, until)) === 1;
  }

  /** When a retired checkpoint's bytes may be deleted (ms), or undefined when it is not in the trash. */
  async trashedUntil(id: string): Promise<number | undefined> {
    const score = await this.redis.zscore(this.trashKey(), id);
    return score === null ? undefined : Number(score);
  }

  /** Moves the given members (except the latest) out of the job's index into the trash. */
  async retire(jobId: string, members: string[], now = Date.now()): Promise<string[]> {
    if (members.length === 0) return [];
    return this.commands.hfCkptRetire(this.indexKey(jobId), this.pinsKey(jobId), this.trashKey(), now, ...members);
  }

  /** Trashed checkpoints whose bytes may go now. */
  async dueForDeletion(now = Date.now(), limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.trashKey(), '-inf', now, 'LIMIT', 0, limit);
  }

  /** Forgets a deleted checkpoint (after its bytes are gone). */
  /** Replaces a stored checkpoint's record (its bytes and place are unchanged); false when it is gone. */
  async replaceRecord(stored: StoredCheckpoint): Promise<boolean> {
    return (await this.redis.set(this.recordKey(stored.record.id), JSON.stringify(stored), 'XX')) === 'OK';
  }

  /** The retention policy of the job's last commit, for re-applying it later. */
  async savePolicy(jobId: string, policy: CheckpointRetention): Promise<void> {
    await this.redis.set(this.policyKey(jobId), JSON.stringify(policy));
  }

  async policy(jobId: string): Promise<CheckpointRetention | undefined> {
    const raw = await this.redis.get(this.policyKey(jobId));
    return raw === null ? undefined : checkpointRetentionSchema.parse(JSON.parse(raw));
  }

  async forget(id: string): Promise<void> {
    await this.redis.multi().del(this.recordKey(id)).zrem(this.trashKey(), id).exec();
  }
}
