import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import Redis from 'ioredis';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';

export const REDIS = Symbol('REDIS');

export const redisProvider: Provider = {
  provide: REDIS,
  inject: [EVALUATION_CONFIG],
  useFactory: (config: EvaluationConfig) => new Redis(config.HOUNSFIELD_REDIS_URL, { maxRetriesPerRequest: 3 }),
};

@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
