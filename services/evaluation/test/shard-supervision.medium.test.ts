import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CheckpointRecord,
  EvaluationRecord,
  evaluationRecordSchema,
  FailureKind,
  JobRecord,
  jobRecordSchema,
  jobSpecSchema,
  JobSpecInput,
  RPC,
  SCHEMA_VERSION,
} from '@hounsfield/contracts';
import { NatsClient, RpcFailure, requestRpc, serveRpc } from '@hounsfield/messaging';
import { ServerHandle, startNatsServer, startRedisServer } from '@hounsfield/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Subscription } from '@nats-io/nats-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { evaluationModule } from '../src/app.module';
import { loadEvaluationConfig } from '../src/config';

/**
 * The evaluation service's supervision of its shard jobs, on its own nats-server and redis-server,
 * with the scheduler and the checkpoint service played over NATS by this test: the shard jobs it
 * submits are counted, and their states are whatever the test says.
 */
const T0 = '2026-01-01T00:00:00.000Z';

function checkpointOf(jobId: string): CheckpointRecord {
  return {
    id: `ck-${Buffer.from(jobId).toString('hex').padEnd(24, '0').slice(0, 24)}`,
    jobId,
    attempt: 1,
    step: 100,
    committedAt: T0,
    totalSize: 1,
    files: [{ name: 'meta.json', size: 1, sha256: '0'.repeat(64), parts: [{ size: 1 }] }],
    meta: { format: 'hounsfield.checkpoint', formatVersion: 1, step: 100, worldSize: 1, metrics: {}, stateFiles: {}, createdAt: T0 },
  };
}

interface FakeScheduler {
  submitted: JobSpecInput[];
  /** How each shard job stands when the service asks, by its evaluation (default: running). */
  shardState: (evaluationId: string) => Pick<JobRecord, 'state'> & Partial<Pick<JobRecord, 'reason' | 'exitCode'>> & { failureKind?: FailureKind };
  submitDelayMs: number;
}

describe('evaluation shard supervision', () => {
  let servers: ServerHandle[] = [];
  let app: INestApplication;
  let nats: NatsClient;
  let storeRoot: string;
  let subscriptions: Subscription[] = [];
  const scheduler: FakeScheduler = { submitted: [], shardState: () => ({ state: 'running' }), submitDelayMs: 0 };

  beforeAll(async () => {
    servers = [await startNatsServer(), await startRedisServer()];
    const [natsServer, redis] = servers;
    storeRoot = mkdtempSync(join(tmpdir(), 'hf-eval-store-'));
    const config = loadEvaluationConfig({
      HOUNSFIELD_NATS_URL: natsServer.url,
      HOUNSFIELD_REDIS_URL: redis.url,
      HOUNSFIELD_STORAGE_DRIVER: 'fs',
      HOUNSFIELD_STORAGE_ROOT: storeRoot,
      HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS: '100',
      HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS: '2',
    });
    app = await NestFactory.create(evaluationModule(config), { logger: ['error'] });
    await app.init();
    nats = await NatsClient.connect({ url: natsServer.url, name: 'evaluation-test' });
    const any = z.any();
    subscriptions = [
      serveRpc(nats.nc, RPC.checkpointsResolve, 'fake', any, async (req: { jobId: string }) => checkpointOf(req.jobId)),
      serveRpc(nats.nc, RPC.submitJob, 'fake', any, async (req: { spec: JobSpecInput }) => {
        const index = scheduler.submitted.length;
        scheduler.submitted.push(req.spec);
        await new Promise((resolve) => setTimeout(resolve, scheduler.submitDelayMs));
        return jobRecord(`shard-${index}`, req.spec, { state: 'queued' });
      }),
      serveRpc(nats.nc, RPC.getJob, 'fake', any, async (req: { id: string }) => {
        const index = Number(req.id.replace('shard-', ''));
        const spec = scheduler.submitted[index];
        if (!spec) throw new RpcFailure({ code: 'not_found', message: `no job ${req.id}` });
        const evaluationId = (spec as { evaluationShard: { evaluationId: string } }).evaluationShard.evaluationId;
        return jobRecord(req.id, spec, scheduler.shardState(evaluationId));
      }),
    ];
  });

  afterEach(() => {
    scheduler.submitted = [];
    scheduler.shardState = () => ({ state: 'running' });
    scheduler.submitDelayMs = 0;
  });

  afterAll(async () => {
    for (const sub of subscriptions) sub.unsubscribe();
    await nats?.close();
    await app?.close();
    for (const server of servers.reverse()) await server.stop();
    rmSync(storeRoot, { recursive: true, force: true });
  });

  function jobRecord(id: string, spec: JobSpecInput, state: ReturnType<FakeScheduler['shardState']>): JobRecord {
    const { failureKind, ...rest } = state;
    const history = [{ state: 'queued', attempt: 1, at: T0 }, ...(failureKind ? [{ state: 'failed', attempt: 1, at: T0, failureKind, reason: state.reason }] : [])];
    return jobRecordSchema.parse({ id, spec: jobSpecSchema.parse(spec), attempt: 1, restarts: 0, createdAt: T0, updatedAt: T0, history, ...rest });
  }

  async function create(shards: number): Promise<EvaluationRecord> {
    const spec = {
      checkpoints: { diffusion: { job: 'train-pcdiff', config: {} }, voxelization: { job: 'train-vox', config: {} } },
      dataset: { root: 'skulls' },
      shards,
    };
    return requestRpc(nats.nc, RPC.evaluationsCreate, { v: SCHEMA_VERSION, spec }, evaluationRecordSchema, 30_000);
  }

  const shardsOf = (evaluationId: string) =>
    scheduler.submitted.filter((spec) => (spec as { evaluationShard: { evaluationId: string } }).evaluationShard.evaluationId === evaluationId);
  const get = (id: string) => requestRpc(nats.nc, RPC.evaluationsGet, { v: SCHEMA_VERSION, evaluationId: id }, evaluationRecordSchema);

  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('submits each shard once while reconciliation runs during the submission', async () => {
    // Each submission takes several reconciliation intervals: a reconciler that took the run for one
    // missing its shards would submit them a second time.
    scheduler.submitDelayMs = 400;
    const record = await create(3);
    expect(record.shardJobs).toEqual(['shard-0', 'shard-1', 'shard-2']);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(shardsOf(record.id)).toHaveLength(3);
    expect((await get(record.id)).shardJobs).toHaveLength(3);
  });

  it('fails with the reason when every shard fails its preflight', async () => {
    const reason = 'dataset root skulls does not exist under HOUNSFIELD_DATA_ROOT on worker w1';
    let failing = '';
    scheduler.shardState = (evaluationId) => (evaluationId === failing ? { state: 'failed', failureKind: 'preflight', reason } : { state: 'running' });
    const record = await create(2);
    failing = record.id;
    await until('the evaluation fails', async () => (await get(record.id)).status === 'failed');
    const failed = await get(record.id);
    expect(failed.error).toContain('every shard failed its preflight before planning its cases');
    expect(failed.error).toContain(`preflight: ${reason} (×2)`);
    expect(shardsOf(record.id)).toHaveLength(2);
  });

  it('replaces crashed shards at most HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS times, then fails', async () => {
    let failing = '';
    scheduler.shardState = (evaluationId) =>
      evaluationId === failing ? { state: 'failed', failureKind: 'infrastructure', reason: 'worker w1 lost' } : { state: 'running' };
    const record = await create(1);
    failing = record.id;
    await until('the evaluation fails', async () => (await get(record.id)).status === 'failed');
    expect(shardsOf(record.id)).toHaveLength(3);
    expect((await get(record.id)).error).toContain('2 replacement shard(s) included: infrastructure: worker w1 lost (×3)');
  });
});
