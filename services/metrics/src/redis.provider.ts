import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import Redis from 'ioredis';
import { METRICS_CONFIG, MetricsConfig } from './config';

export const REDIS = Symbol('REDIS');

export const redisProvider: Provider = {
  provide: REDIS,
  inject: [METRICS_CONFIG],
  useFactory: (config: MetricsConfig) => new Redis(config.HOUNSFIELD_REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: false }),
};

@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
