import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import { createObjectStore, ObjectStore, StorageConfig } from '@hounsfield/storage';
import Redis from 'ioredis';
import { HEALTH_CHECKS, HealthChecks } from './health.controller';

/** The service's Redis connection (repositories inject it; nothing else talks to Redis). */
export const REDIS = Symbol('REDIS');
/** The service's object store (fs or s3, from HOUNSFIELD_STORAGE_DRIVER). */
export const OBJECT_STORE = Symbol('OBJECT_STORE');
export type { ObjectStore };

@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

/**
 * Providers for the infrastructure a service names: a Redis connection (closed at shutdown), an
 * object store, and a `/healthz` check for each (Redis answers PING; the store answers a stat of a
 * probe key, which normally does not exist — any answer shows it is reachable).
 */
export function infrastructureProviders(options: { redisUrl?: string; redisPassword?: string; storage?: StorageConfig }): Provider[] {
  const providers: Provider[] = [];
  const checks: { name: string; token: symbol; check: (resource: never) => Promise<boolean> }[] = [];
  if (options.redisUrl !== undefined) {
    const url = options.redisUrl;
    const password = options.redisPassword;
    providers.push({ provide: REDIS, useFactory: () => new Redis(url, { maxRetriesPerRequest: 3, ...(password ? { password } : {}) }) }, RedisCloser);
    checks.push({ name: 'redis', token: REDIS, check: async (redis: Redis) => (await redis.ping()) === 'PONG' });
  }
  if (options.storage !== undefined) {
    const storage = options.storage;
    providers.push({ provide: OBJECT_STORE, useFactory: (): Promise<ObjectStore> => createObjectStore(storage) });
    checks.push({
      name: 'store',
      token: OBJECT_STORE,
      check: async (store: ObjectStore) => {
        await store.stat('health/probe');
        return true;
      },
    });
  }
  if (checks.length > 0) {
    providers.push({
      provide: HEALTH_CHECKS,
      inject: checks.map((c) => c.token),
      useFactory: (...resources: never[]): HealthChecks =>
        Object.fromEntries(checks.map((c, i) => [c.name, () => c.check(resources[i])])),
    });
  }
  return providers;
}
