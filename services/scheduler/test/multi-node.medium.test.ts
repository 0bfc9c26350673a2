import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Assignment, JobRecord, SERVICE_RPCS, TrainingJobSpecInput } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { LocalStack } from '@hounsfield/testing';
import Redis from 'ioredis';
import { FakeWorker } from './fake-worker';

const ENV = {
  HOUNSFIELD_LOG_LEVEL: 'warn',
  HOUNSFIELD_WORKER_TTL_SECONDS: '3',
  HOUNSFIELD_WORKER_RECONNECT_SECONDS: '4',
  HOUNSFIELD_RECONCILE_INTERVAL_MS: '300',
  HOUNSFIELD_RESERVE_AFTER_SECONDS: '2',
};

/** A multi-node job that only GPUs of model `name` (its scenario's fake workers) can hold. */
function spec(name: string, nodes: number, gpus: number, patch: Partial<TrainingJobSpecInput> = {}): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'train' },
    resources: { nodes, gpus, gpuType: name, waitForCapacity: true },
    hyperparameters: { globalBatch: 64, baseLr: 1e-3 },
    ...patch,
  };
}

describe('multi-node placement on real NATS and Redis, with workers simulated by the test', () => {
  let stack: LocalStack;
  let nats: NatsClient;
  let redis: Redis;
  let dataDir: string;
  const workers: FakeWorker[] = [];

  const submit = (s: TrainingJobSpecInput) => requestRpc(nats.nc, SERVICE_RPCS.submitJob, { spec: s });
  const get = (id: string) => requestRpc(nats.nc, SERVICE_RPCS.getJob, { id });
  async function waitFor(id: string, predicate: (job: JobRecord) => boolean, timeoutMs = 20_000): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    let job = await get(id);
    while (!predicate(job) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      job = await get(id);
    }
    return job;
  }
  function worker(id: string, gpus: number, gpuName: string, topology?: string, last = 29409): FakeWorker {
    const w = new FakeWorker(nats, id, gpus, gpuName);
    w.advertise = { address: `addr-${id}`, rendezvousPorts: { first: 29400, last }, ...(topology ? { topology } : {}) };
    w.answerStops();
    workers.push(w);
    w.startHeartbeats();
    return w;
  }
  /** GPU leases of these workers in Redis: `<worker>/<gpu>` → `<job>:<attempt>`. */
  async function leases(...ids: string[]): Promise<Record<string, string>> {
    const held: Record<string, string> = {};
    for (const id of ids) for (const [gpu, token] of Object.entries(await redis.hgetall(`hf:lease:${id}`))) held[`${id}/${gpu}`] = token;
    return held;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hf-sched-mn-'));
    stack = await LocalStack.start({ dataDir, env: ENV, services: ['scheduler'], harness: true });
    nats = await NatsClient.connect({ ...stack.harnessNats(), name: 'scheduler-mn-test' });
    redis = new Redis(stack.redis.url, { password: stack.credentials.redisPassword });
  });
  afterEach(() => {
    for (const w of workers.splice(0)) w.stopHeartbeats();
  });
  afterAll(async () => {
    redis?.disconnect();
    await nats?.close();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('leases both nodes at once on workers of one topology label and gives each its rank and the rendezvous', async () => {
    const near = [worker('mna-1', 4, 'MNA', 'rack-1'), worker('mna-2', 4, 'MNA', 'rack-1')];
    worker('mna-3', 4, 'MNA', 'rack-2');
    await new Promise((r) => setTimeout(r, 700));
    const job = await submit(spec('MNA', 2, 4));
    const orders = (await Promise.all(near.map((w) => w.nextAssignment()))) as Assignment[];
    const byRank = [...orders].sort((a, b) => (a.node?.nodeRank ?? 0) - (b.node?.nodeRank ?? 0));
    const host = byRank[0].workerId;
    expect(byRank.map((o) => o.node)).toEqual([0, 1].map((nodeRank) => ({ nodeRank, nnodes: 2, rdzvHost: `addr-${host}`, rdzvPort: 29400, rdzvId: `${job.id}-1` })));
    expect(byRank.map((o) => [o.nprocPerNode, o.cudaVisibleDevices, o.resolved?.worldSize])).toEqual([
      [4, '0,1,2,3', 8],
      [4, '0,1,2,3', 8],
    ]);
    const assigned = await get(job.id);
    expect(assigned.nodes?.map((n) => [n.nodeRank, n.workerId, n.ranks])).toEqual([
      [0, host, [0, 1, 2, 3]],
      [1, byRank[1].workerId, [4, 5, 6, 7]],
    ]);
    expect(assigned.rendezvous).toEqual({ host: `addr-${host}`, port: 29400, id: `${job.id}-1` });
    expect(Object.values(await leases('mna-1', 'mna-2', 'mna-3'))).toEqual(Array(8).fill(`${job.id}:1`));
  });

  it('requeues the whole job as one attempt when a non-zero node fails, stopping node 0, and ends when node 0 succeeds', async () => {
    const pair = [worker('mnf-1', 1, 'MNF'), worker('mnf-2', 1, 'MNF')];
    await new Promise((r) => setTimeout(r, 700));
    const job = await submit(spec('MNF', 2, 1, { maxRestarts: 1 }));
    const first = (await Promise.all(pair.map((w) => w.nextAssignment()))) as Assignment[];
    const rankOf = (w: FakeWorker, orders: Assignment[]) => orders[pair.indexOf(w)].node?.nodeRank;
    const [node0, node1] = [...pair].sort((a, b) => (rankOf(a, first) ?? 0) - (rankOf(b, first) ?? 0));
    const order = (w: FakeWorker, orders: Assignment[]) => orders[pair.indexOf(w)];
    for (const w of pair) await w.status(order(w, first), 'running');
    await waitFor(job.id, (j) => j.state === 'running');

    await node1.status(order(node1, first), 'failed', { exitCode: 1, reason: 'rank 1 crashed', failureKind: 'trainer' });
    const second = (await Promise.all(pair.map((w) => w.nextAssignment()))) as Assignment[];
    expect(second.map((o) => o.attempt)).toEqual([2, 2]);
    const requeued = await get(job.id);
    expect(requeued).toMatchObject({ attempt: 2, restarts: 1 });
    expect(requeued.history.some((h) => h.attempt === 1 && /node 1 \(worker mnf-\d\) failed: rank 1 crashed/.test(h.reason ?? ''))).toBe(true);
    expect(requeued.attempts?.[0]).toMatchObject({ attempt: 1, outcome: 'failed', failureKind: 'trainer', nodeWorkerIds: [node0.workerId, node1.workerId] });
    expect(node0.stops).toContain(`${job.id}:1`);

    // Node 0's late report of attempt 1 changes nothing; node 1 finishing first does not end the job.
    await node0.status(order(node0, first), 'failed', { exitCode: 1, reason: 'peer gone', failureKind: 'trainer' });
    for (const w of pair) await w.status(order(w, second), 'running');
    await node1.status(order(node1, second), 'succeeded', { exitCode: 0 });
    expect((await waitFor(job.id, (j) => j.state === 'running')).state).toBe('running');
    await node0.status(order(node0, second), 'succeeded', { exitCode: 0 });
    const done = await waitFor(job.id, (j) => j.state === 'succeeded');
    expect(done).toMatchObject({ state: 'succeeded', attempt: 2, restarts: 1 });
    expect(await leases('mnf-1', 'mnf-2')).toEqual({});
  });

  it('says how many workers have the GPUs while too few do, and places the job once another arrives', async () => {
    worker('mnb-1', 4, 'MNB');
    worker('mnb-2', 4, 'MNB', undefined, 29400);
    await new Promise((r) => setTimeout(r, 700));
    const busy = await submit(spec('MNB', 1, 1));
    await waitFor(busy.id, (j) => j.state === 'assigned');
    const job = await submit(spec('MNB', 2, 4));
    const waiting = await waitFor(job.id, (j) => (j.pendingReason ?? '').includes('needs'));
    expect(waiting.state).toBe('queued');
    expect(waiting.pendingReason).toMatch(/^needs 2 workers with 4 free MNB each; 1 has them \(mnb-\d\), of \d+ live workers$/);
    worker('mnb-3', 4, 'MNB');
    const placed = await waitFor(job.id, (j) => j.state === 'assigned');
    expect(placed.nodes).toHaveLength(2);
  });

  it('holds back a worker per node once a multi-node job has waited too long, so 1-GPU jobs cannot starve it', async () => {
    const pair = [worker('mns-1', 1, 'MNS'), worker('mns-2', 1, 'MNS')];
    await new Promise((r) => setTimeout(r, 700));
    const smalls = [await submit(spec('MNS', 1, 1)), await submit(spec('MNS', 1, 1))];
    const first = (await Promise.all(pair.map((w) => w.nextAssignment()))) as Assignment[];
    expect(first.map((o) => o.jobId).sort()).toEqual(smalls.map((j) => j.id).sort());
    for (const [i, w] of pair.entries()) await w.status(first[i], 'running');
    const large = await submit(spec('MNS', 2, 1));
    await new Promise((r) => setTimeout(r, 2500)); // past HOUNSFIELD_RESERVE_AFTER_SECONDS
    const late = await submit(spec('MNS', 1, 1));
    // One node's GPU freed: before the reservation covered every node, the late 1-GPU job took it.
    await pair[0].status(first[0], 'succeeded', { exitCode: 0 });
    expect(await pair[0].nextAssignment(2500)).toBeUndefined();
    expect((await get(late.id)).state).toBe('queued');
    await pair[1].status(first[1], 'succeeded', { exitCode: 0 });
    const gang = (await Promise.all(pair.map((w) => w.nextAssignment()))) as Assignment[];
    expect(gang.map((o) => [o.jobId, o.node?.nnodes])).toEqual([
      [large.id, 2],
      [large.id, 2],
    ]);
    expect((await get(late.id)).state).toBe('queued');
  });
});
