import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { z } from 'zod';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { REDIS } from '@hounsfield/runtime';

export const storedImportSchema = z
  .object({
    importId: z.string(),
    fileName: z.string(),
    size: z.number(),
    key: z.string(),
    expiresAt: z.number(),
    /** The `checkpoint_import` job converting it, once started. */
    jobId: z.string().optional(),
  })
  .strict();
export type StoredImport = z.infer<typeof storedImportSchema>;

/** Legacy files uploaded for import, until their import job has had time to read them. */
@Injectable()
export class ImportRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CHECKPOINTS_CONFIG) config: CheckpointsConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}ckpt:`;
  }

  private key = (importId: string) => `${this.p}import:${importId}`;
  private expiringKey = () => `${this.p}imports`;

  async create(stored: StoredImport): Promise<void> {
    await this.redis
      .multi()
      .set(this.key(stored.importId), JSON.stringify(stored), 'PXAT', stored.expiresAt)
      .zadd(this.expiringKey(), stored.expiresAt, stored.importId)
      .exec();
  }

  /** Updates a stored import (keeping its expiry). */
  async save(stored: StoredImport): Promise<void> {
    await this.redis.set(this.key(stored.importId), JSON.stringify(stored), 'PXAT', stored.expiresAt);
  }

  async get(importId: string): Promise<StoredImport | undefined> {
    const raw = await this.redis.get(this.key(importId));
    return raw === null ? undefined : storedImportSchema.parse(JSON.parse(raw));
  }

  /** Imports whose source files may be deleted now. */
  expired(now = Date.now(), limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.expiringKey(), '-inf', now, 'LIMIT', 0, limit);
  }

  async forget(importId: string): Promise<void> {
    await this.redis.multi().del(this.key(importId)).zrem(this.expiringKey(), importId).exec();
  }
}
