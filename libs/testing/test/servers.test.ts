import { afterAll, describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import Redis from 'ioredis';
import { ServerHandle, startNatsServer, startRedisServer, startS3Server } from '../src';

describe('test harness servers', () => {
  const started: ServerHandle[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it('starts nats-server with JetStream on a free loopback port, never the default one', async () => {
    const nats = await startNatsServer();
    started.push(nats);
    expect(nats.port).not.toBe(4222);
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.getAccountInfo();
    expect(info.limits).toBeDefined();
    expect(nc.info?.version.split('.').map(Number)[1]).toBeGreaterThanOrEqual(10);
    await nc.close();
  });

  it('starts redis-server on a free loopback port', async () => {
    const redis = await startRedisServer();
    started.push(redis);
    expect(redis.port).not.toBe(6379);
    const client = new Redis(redis.url);
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    client.disconnect();
  });

  it('starts an S3-compatible server that answers bucket requests', async () => {
    const s3 = await startS3Server();
    started.push(s3);
    const res = await fetch(`${s3.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('ListAllMyBucketsResult');
  });

  it('removes a temporary data directory on stop', async () => {
    const redis = await startRedisServer();
    await redis.stop();
    const { existsSync } = await import('node:fs');
    expect(existsSync(redis.dataDir)).toBe(false);
  });
});
