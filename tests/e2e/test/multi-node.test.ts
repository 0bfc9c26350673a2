import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HounsfieldApiError } from '@hounsfield/client';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack } from '@hounsfield/testing';
import Redis from 'ioredis';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFile, finished, listCheckpoints, maxAbsDifference, readSafetensors } from './checkpoints-fixture';
import { FAST_ENV, Fixture, fixtureOf, startRegisteredWorker } from './stack-fixture';

/**
 * Multi-node jobs on the whole stack: two worker agents on this host act as two nodes (one
 * simulated GPU each, so their leases are real; the trainers run on the CPU with gloo) and join
 * torchrun's c10d rendezvous on node 0's worker over loopback.
 * Timings: heartbeat 1 s, TTL 6 s, reconnect window 10 s (FAST_ENV).
 */

/** hounsfield.examples.resumable_train: a global batch of 16, checkpoints every 10 steps. */
function training(name: string, resources: TrainingJobSpecInput['resources'], extraArgs: string[] = [], patch: Partial<TrainingJobSpecInput> = {}): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'hounsfield.examples.resumable_train', args: ['--steps', '60', '--checkpoint-every', '10', ...extraArgs] },
    resources,
    hyperparameters: { globalBatch: 16, baseLr: 0.05, seed: 0 },
    ...patch,
  };
}

const TWO_NODES = { nodes: 2, gpus: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('multi-node jobs: two worker agents as two nodes over a c10d rendezvous', () => {
  let fixture: Fixture;
  let redis: Redis;
  // Rendezvous ports of this run, away from other suites running on the machine.
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const node = (workerId: string, offset: number) => ({
    workerId,
    fakeGpus: '1',
    env: {
      HOUNSFIELD_WORKER_ADDRESS: '127.0.0.1',
      HOUNSFIELD_RENDEZVOUS_PORTS: `${base + offset}-${base + offset + 9}`,
      HOUNSFIELD_TOPOLOGY: 'rack-e2e',
      // A rank whose peer node is gone may sit in a collective until SIGKILL: do not wait 30 s for it.
      HOUNSFIELD_STOP_GRACE_SECONDS: '5',
    },
  });
  const workerOptions = { 'node-a': node('node-a', 0), 'node-b': node('node-b', 10) };

  /** GPU leases held in Redis, over every worker: `<worker>/<gpu>` → `<job>:<attempt>`. */
  async function leases(): Promise<Record<string, string>> {
    const held: Record<string, string> = {};
    for (const key of await redis.keys('hf:lease:*')) {
      for (const [gpu, token] of Object.entries(await redis.hgetall(key))) held[`${key.slice('hf:lease:'.length)}/${gpu}`] = token;
    }
    return held;
  }
  const finalWeights = async (jobId: string) => readSafetensors(await downloadFile(fixture, `${jobId}:latest`, 'model.safetensors'));

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-multinode-'));
    const stack = await LocalStack.start({
      dataDir,
      env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects') },
    });
    fixture = fixtureOf(stack, dataDir);
    redis = new Redis(stack.redis.url, { password: stack.credentials.redisPassword, lazyConnect: true });
    await redis.connect();
    await Promise.all(Object.values(workerOptions).map((options) => startRegisteredWorker(fixture, options)));
  });
  afterAll(async () => {
    redis?.disconnect();
    await fixture?.cleanup();
  });

  it('refuses a job more nodes than workers could hold, saying how many could', async () => {
    const refused = await fixture.client.submitJob(training('too-wide', { nodes: 4, gpus: 1 })).then(
      () => undefined,
      (error: unknown) => error as HounsfieldApiError,
    );
    expect(refused).toBeInstanceOf(HounsfieldApiError);
    expect(refused?.status).toBe(422);
    expect(refused?.problem.detail).toContain('needs 4 workers with 1 GPU each; only 2 registered workers have them (node-a, node-b)');
  });

  it('trains a 2-node × 1-process job with gloo to the parameters of a 1-process run with the same global batch and seed', async () => {
    const [reference, multi] = await Promise.all([finished(fixture, training('one-process', { gpus: 0, cpuProcesses: 1 })), finished(fixture, training('two-nodes', TWO_NODES))]);
    expect(reference.state).toBe('succeeded');
    expect(multi.state).toBe('succeeded');

    // The record shows both nodes, their workers and global ranks, and the rendezvous on node 0.
    const nodes = multi.nodes ?? [];
    expect(nodes.map((n) => n.nodeRank)).toEqual([0, 1]);
    expect(nodes.map((n) => n.workerId).sort()).toEqual(['node-a', 'node-b']);
    expect(nodes.map((n) => n.ranks)).toEqual([[0], [1]]);
    expect(nodes.every((n) => n.gpuIndices.length === 1)).toBe(true);
    expect(multi.workerId).toBe(nodes[0].workerId);
    expect(multi.rendezvous).toMatchObject({ host: '127.0.0.1', id: `${multi.id}-1` });
    expect(multi.resolved).toMatchObject({ worldSize: 2, globalBatch: 16, perDeviceBatch: 8, gradAccumSteps: 1 });
    expect(multi.attempts?.[0]).toMatchObject({ attempt: 1, worldSize: 2, nodeWorkerIds: nodes.map((n) => n.workerId), outcome: 'succeeded' });
    expect(multi.history.find((h) => h.state === 'assigned')?.reason).toMatch(/placed on 2 nodes: node 0 node-[ab] GPUs 0, node 1 node-[ab] GPUs 0; rendezvous 127\.0\.0\.1:\d+/);

    // Global rank 0 (on node 0) wrote the checkpoints, at world size 2.
    const checkpoints = await listCheckpoints(fixture, multi.id);
    expect(checkpoints[0]).toMatchObject({ step: 60, attempt: 1 });
    expect(checkpoints[0].meta).toMatchObject({ worldSize: 2 });

    const expected = await finalWeights(reference.id);
    expect(expected.size).toBe(4);
    // Float tolerance: the order of the gradient sums differs between one and two processes.
    expect(maxAbsDifference(await finalWeights(multi.id), expected)).toBeLessThan(1e-5);
    expect(await leases()).toEqual({});
  });

  it('requeues the whole job as one attempt when one node’s agent is SIGKILLed, resumes on two nodes and succeeds', async () => {
    const reference = await finished(fixture, training('one-process-slow', { gpus: 0, cpuProcesses: 1 }, ['--steps', '120']));
    expect(reference.state).toBe('succeeded');

    const job = await fixture.client.submitJob(training('two-nodes-killed', TWO_NODES, ['--steps', '120', '--step-sleep', '0.25']));
    // Past the first checkpoint (step 10).
    const running = await until('progress past step 12', async () => {
      const record = await fixture.client.getJob(job.id);
      return (record.lastProgress?.step ?? 0) >= 12 ? record : undefined;
    });
    expect(Object.values(await leases()).sort()).toEqual([`${job.id}:1`, `${job.id}:1`]);
    const victim = running.nodes?.[1].workerId as keyof typeof workerOptions;
    const survivor = running.nodes?.[0].workerId as string;
    await fixture.stack.workers.get(victim)?.kill();

    // Past the reconnect window the scheduler stops node 0's trainer and requeues the job as attempt 2.
    const requeued = await until(
      'the requeue as attempt 2',
      async () => {
        const record = await fixture.client.getJob(job.id);
        return record.attempt >= 2 ? record : undefined;
      },
      90_000,
    );
    expect(requeued.restarts).toBe(0);
    expect(requeued.history.some((h) => h.state === 'queued' && new RegExp(`worker ${victim} \\(node 1 of 2\\) stopped sending heartbeats`).test(h.reason ?? ''))).toBe(true);
    expect(requeued.attempts?.[0]).toMatchObject({ attempt: 1, outcome: 'failed', failureKind: 'infrastructure' });
    // Node 0's trainer was stopped: its supervisor recorded the end of attempt 1.
    const exitFile = join(fixture.dataDir, 'workers', survivor, 'jobs', job.id, 'attempt-1', 'exit.json');
    await until('node 0 to stop attempt 1', () => (existsSync(exitFile) ? true : undefined));

    // A replacement agent for the lost node: the job resumes on two nodes from its latest checkpoint.
    await startRegisteredWorker(fixture, workerOptions[victim]);
    const final: JobRecord = await fixture.client.waitForState(job.id, ['succeeded', 'failed', 'cancelled'], 180_000);
    expect(final).toMatchObject({ state: 'succeeded', attempt: 2, restarts: 0 });
    expect(final.nodes?.map((n) => n.workerId).sort()).toEqual(['node-a', 'node-b']);
    expect(final.rendezvous?.id).toBe(`${job.id}-2`);
    const resumed = final.history.find((h) => h.attempt === 2 && h.state === 'assigned');
    expect(resumed?.reason).toMatch(/placed on 2 nodes: .*; resumes from checkpoint ck-[0-9a-f]{24} \(step \d+\)/);
    expect(final.attempts?.map((a) => a.attempt)).toEqual([1, 2]);

    expect(maxAbsDifference(await finalWeights(final.id), await finalWeights(reference.id))).toBeLessThan(1e-5);
    expect(await leases()).toEqual({});
  }, 360_000);
});
