import { Inject, Injectable } from '@nestjs/common';
import { CheckpointUploadSession, checkpointUploadSessionSchema } from '@hounsfield/contracts';
import Redis from 'ioredis';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';
import { CLAIM_LUA, RELEASE_LUA } from '../registry/registry.lua';

export type UploadState = 'open' | 'verifying' | 'committed' | 'rejected';

export interface StoredUpload {
  session: CheckpointUploadSession;
  prefix: string;
  state: UploadState;
  reason?: string;
}

export type ClaimResult = 'claimed' | 'verifying' | 'committed' | 'rejected' | 'missing';

/** A session outlives its expiry by this long, so a late commit learns "expired" rather than "unknown". */
const SESSION_GRACE_MS = 24 * 3600 * 1000;

interface SessionCommands {
  hfCkptClaim(key: string, token: string, now: number, staleMs: number): Promise<ClaimResult>;
  hfCkptRelease(key: string, token: string, state: string, reason: string): Promise<number>;
}

/**
 * Upload sessions in Redis: one hash per upload, and a sorted set of open uploads' prefixes by
 * expiry that the sweeper reads to delete abandoned parts.
 */
@Injectable()
export class UploadSessionRepository {
  private readonly p: string;
  private readonly commands: SessionCommands;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CHECKPOINTS_CONFIG) config: CheckpointsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}ckpt:`;
    redis.defineCommand('hfCkptClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('hfCkptRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.commands = redis as unknown as SessionCommands;
  }

  hashKey = (uploadId: string) => `${this.p}upload:${uploadId}`;
  openKey = () => `${this.p}uploads`;

  async create(session: CheckpointUploadSession, prefix: string): Promise<void> {
    const expiresAt = Date.parse(session.expiresAt);
    const key = this.hashKey(session.uploadId);
    await this.redis
      .multi()
      .hset(key, { session: JSON.stringify(session), prefix, state: 'open' })
      .pexpireat(key, expiresAt + SESSION_GRACE_MS)
      .zadd(this.openKey(), expiresAt, prefix)
      .exec();
  }

  async get(uploadId: string): Promise<StoredUpload | undefined> {
    const fields = await this.redis.hgetall(this.hashKey(uploadId));
    if (!fields.session) return undefined;
    return {
      session: checkpointUploadSessionSchema.parse(JSON.parse(fields.session)),
      prefix: fields.prefix,
      state: fields.state as UploadState,
      ...(fields.reason ? { reason: fields.reason } : {}),
    };
  }

  /** Claims the upload for verification (see CLAIM_LUA). */
  claim(uploadId: string, token: string, staleMs: number, now = Date.now()): Promise<ClaimResult> {
    return this.commands.hfCkptClaim(this.hashKey(uploadId), token, now, staleMs);
  }

  /** Gives a claimed upload back: `open` for a retry after a store failure, or `rejected` with the reason. */
  async release(uploadId: string, token: string, state: 'open' | 'rejected', reason = ''): Promise<void> {
    await this.commands.hfCkptRelease(this.hashKey(uploadId), token, state, reason);
  }

  /** Prefixes of uploads that expired uncommitted (or were rejected and not yet cleaned up). */
  expiredPrefixes(now = Date.now(), limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.openKey(), '-inf', now, 'LIMIT', 0, limit);
  }

  /** Marks a rejected upload's prefix for deletion by the next sweep. */
  async expireNow(prefix: string): Promise<void> {
    await this.redis.zadd(this.openKey(), 0, prefix);
  }

  async forgetPrefix(prefix: string): Promise<void> {
    await this.redis.zrem(this.openKey(), prefix);
  }
}
