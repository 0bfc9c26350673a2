import { Inject, Injectable } from '@nestjs/common';
import { REDIS } from '@hounsfield/runtime';
import Redis from 'ioredis';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';

/** A checkpoint's number among its job's commits: the first time it is seen it gets the next one. */
const ORDINAL = `
local seen = redis.call('HGET', KEYS[1], ARGV[1])
if seen then return tonumber(seen) end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], n)
return n
`;

/** Counts each job's committed checkpoints once each, so a redelivered event keeps its number. */
@Injectable()
export class AutoEvaluationRepository {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(EVALUATION_CONFIG) config: EvaluationConfig,
  ) {
    this.prefix = `${config.HOUNSFIELD_REDIS_PREFIX}eval:auto:`;
  }

  /** 1 for the job's first committed checkpoint, 2 for the second, ...; the same answer every time. */
  async ordinal(jobId: string, checkpointId: string): Promise<number> {
    return Number(await this.redis.eval(ORDINAL, 2, `${this.prefix}${jobId}:seen`, `${this.prefix}${jobId}:count`, checkpointId));
  }
}
