import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NatsClient } from '@hounsfield/messaging';
import { createObjectStore, ObjectStore } from '@hounsfield/storage';
import { ServerHandle, startNatsServer, startRedisServer, startS3Server } from '@hounsfield/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointsModule } from '../src/app.module';
import { CheckpointsConfig, loadCheckpointsConfig } from '../src/config';
import { CheckpointTestClient } from './checkpoint-client';

export type Driver = 'fs' | 's3';

export interface Harness {
  config: CheckpointsConfig;
  store: ObjectStore;
  client: CheckpointTestClient;
  nats: NatsClient;
  stop(): Promise<void>;
}

/**
 * A checkpoints service in this process on its own nats-server, redis-server and store (a temporary
 * directory, or a fresh bucket on a moto S3 server), with 1 MiB parts so small files have several.
 */
export async function startHarness(driver: Driver, env: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const servers: ServerHandle[] = [await startNatsServer(), await startRedisServer()];
  const [nats, redis] = servers;
  const root = mkdtempSync(join(tmpdir(), 'hf-ckpt-store-'));
  let storageEnv: NodeJS.ProcessEnv = { HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: root };
  if (driver === 's3') {
    const s3 = await startS3Server();
    servers.push(s3);
    storageEnv = {
      HOUNSFIELD_STORAGE_DRIVER: 's3',
      HOUNSFIELD_S3_ENDPOINT: s3.url,
      HOUNSFIELD_S3_BUCKET: `hf-ckpt-${Date.now().toString(36)}`,
      HOUNSFIELD_S3_ACCESS_KEY: 'test',
      HOUNSFIELD_S3_SECRET_KEY: 'test',
    };
  }
  const config = loadCheckpointsConfig({
    HOUNSFIELD_NATS_URL: nats.url,
    HOUNSFIELD_REDIS_URL: redis.url,
    HOUNSFIELD_CHECKPOINT_PART_MIB: '1',
    HOUNSFIELD_CHECKPOINT_SWEEP_INTERVAL_MS: '200',
    ...storageEnv,
    ...env,
  });
  const app: INestApplication = await NestFactory.create(checkpointsModule(config), { logger: ['error'] });
  await app.init();
  const client = await NatsClient.connect({ url: nats.url, name: 'checkpoints-test' });
  return {
    config,
    store: await createObjectStore(config.storage),
    client: new CheckpointTestClient(client.nc),
    nats: client,
    async stop() {
      await client.close();
      await app.close();
      for (const server of servers.reverse()) await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Every object key under a job's checkpoints. */
export async function storedKeys(store: ObjectStore, jobId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(`checkpoints/${jobId}/`)) keys.push(entry.key);
  return keys;
}

export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}
