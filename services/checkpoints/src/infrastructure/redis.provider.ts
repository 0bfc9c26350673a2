import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import Redis from 'ioredis';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';

export const REDIS = Symbol('REDIS');

export const redisProvider: Provider = {
  provide: REDIS,
  inject: [CHECKPOINTS_CONFIG],
  useFactory: (config: CheckpointsConfig) => new Redis(config.HOUNSFIELD_REDIS_URL, { maxRetriesPerRequest: 3 }),
};

@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
