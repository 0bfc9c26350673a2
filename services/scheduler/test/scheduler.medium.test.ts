import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attemptCurrentReplySchema, JobRecord, SCHEMA_VERSION, SERVICE_RPCS, TrainingJobSpecInput, WORKER_RPC, workerRpcSubject } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { LocalStack } from '@hounsfield/testing';
import { FakeWorker } from './fake-worker';

const ENV = {
  HOUNSFIELD_LOG_LEVEL: 'warn',
  HOUNSFIELD_WORKER_TTL_SECONDS: '3',
  HOUNSFIELD_WORKER_RECONNECT_SECONDS: '6',
  HOUNSFIELD_RECONCILE_INTERVAL_MS: '300',
  HOUNSFIELD_LOST_ATTEMPT_SECONDS: '2',
  HOUNSFIELD_RESERVE_AFTER_SECONDS: '2',
};

/** A job that only GPUs of model `name` (given to that scenario's fake workers) can hold. */
function spec(name: string, patch: Partial<TrainingJobSpecInput> = {}, gpus = 1): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'train' },
    resources: { gpus, gpuType: name, waitForCapacity: true },
    hyperparameters: { globalBatch: 8, baseLr: 1e-3 },
    ...patch,
  };
}

describe('scheduler on real NATS and Redis, with workers simulated by the test', () => {
  let stack: LocalStack;
  let nats: NatsClient;
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
  const isCurrent = (workerId: string, jobId: string, attempt: number) =>
    requestRpc(nats.nc, workerRpcSubject(workerId, WORKER_RPC.attemptCurrent), { v: SCHEMA_VERSION, jobId, attempt }, attemptCurrentReplySchema);
  function worker(id: string, gpus: number, gpuName: string): FakeWorker {
    const w = new FakeWorker(nats, id, gpus, gpuName);
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hf-sched-'));
    stack = await LocalStack.start({ dataDir, env: ENV, services: ['scheduler'], harness: true });
    nats = await NatsClient.connect({ ...stack.harnessNats(), name: 'scheduler-test' });
  });
  afterEach(() => {
    for (const w of workers.splice(0)) w.stopHeartbeats();
  });
  afterAll(async () => {
    await nats?.close();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no job when the scheduler is killed between submission and assignment', async () => {
    const jobs = await Promise.all([1, 2, 3].map(() => submit(spec('crash'))));
    expect(jobs.every((j) => j.state === 'queued')).toBe(true);
    await stack.services.get('scheduler')?.kill();
    await stack.startService('scheduler');

    const w = worker('crash-node', 4, 'crash');
    w.startHeartbeats();
    const seen = new Map<string, number>();
    for (let i = 0; i < 3; i += 1) {
      const a = await w.nextAssignment();
      expect(a).toBeDefined();
      if (a) seen.set(a.jobId, (seen.get(a.jobId) ?? 0) + 1);
    }
    expect(await w.nextAssignment(1500)).toBeUndefined();
    expect([...seen.keys()].sort()).toEqual(jobs.map((j) => j.id).sort());
    expect([...seen.values()]).toEqual([1, 1, 1]);
    for (const job of jobs) expect((await get(job.id)).state).toBe('assigned');
  });

  it('requeues a failed attempt while restarts remain, then fails for good', async () => {
    const w = worker('retry-node', 1, 'retry');
    w.startHeartbeats();
    const job = await submit(spec('retry', { maxRestarts: 1 }));
    const first = await w.nextAssignment();
    expect(first?.attempt).toBe(1);
    await w.status(first!, 'running');
    await w.status(first!, 'failed', { exitCode: 1, reason: 'trainer exited with code 1' });
    const second = await w.nextAssignment();
    expect(second?.jobId).toBe(job.id);
    expect(second?.attempt).toBe(2);
    await w.status(second!, 'failed', { exitCode: 1, reason: 'trainer exited with code 1' });
    const done = await waitFor(job.id, (j) => j.state === 'failed');
    expect(done).toMatchObject({ state: 'failed', attempt: 2, restarts: 1, exitCode: 1 });
  });

  it('ignores reports of an attempt it already replaced', async () => {
    const w = worker('stale-node', 1, 'stale');
    w.startHeartbeats();
    const job = await submit(spec('stale', { maxRestarts: 2 }));
    const first = await w.nextAssignment();
    await w.status(first!, 'failed', { exitCode: 2 });
    const second = await w.nextAssignment();
    expect(second?.attempt).toBe(2);
    await w.status(first!, 'succeeded', { exitCode: 0 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await get(job.id)).state).toBe('assigned');
  });

  it('builds a GPU job’s environment as CPU work before any lease, then places it where the environment is cached', async () => {
    const a = worker('env-a-node', 2, 'envphase');
    const b = worker('env-b-node', 1, 'envphase');
    a.startHeartbeats();
    b.startHeartbeats();
    const job = await submit(spec('envphase', { environment: { requirements: ['einops==0.8.0'] } }));
    // The build goes to the worker with the most of the job's GPUs free, as CPU work.
    const order = await a.nextAssignment();
    expect(order).toMatchObject({ jobId: job.id, attempt: 1, phase: 'environment', gpuIndices: [], cudaVisibleDevices: '' });
    a.builds.add(job.id);
    const building = await get(job.id);
    expect(building).toMatchObject({ state: 'queued', environment: { state: 'building', workerId: 'env-a-node', buildId: order!.assignmentId } });
    expect(building.pendingReason).toContain('building its environment on env-a-node');
    expect(building.workerId).toBeUndefined();
    expect(building.gpuIndices).toBeUndefined();
    expect(building.history.map((h) => h.state)).toEqual(['queued']);
    // A report of another build changes nothing.
    await a.environment({ ...order!, assignmentId: `${job.id}:1:env:earlier` }, 'ready', { key: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await get(job.id)).environment?.state).toBe('building');

    const key = '0123456789abcdef01234567';
    a.environments.push(key);
    await a.heartbeat();
    await a.environment(order!, 'ready', { key });
    // Best fit alone would take env-b-node's single GPU; the cached environment wins.
    const attempt = await a.nextAssignment();
    expect(attempt).toMatchObject({ jobId: job.id, attempt: 1, gpuIndices: [0] });
    expect(attempt?.phase).toBeUndefined();
    const placed = await waitFor(job.id, (j) => j.state === 'assigned');
    expect(placed).toMatchObject({ workerId: 'env-a-node', environment: { state: 'ready', key, workerId: 'env-a-node' } });
    expect(Date.parse(placed.environment!.readyAt!)).toBeLessThanOrEqual(Date.parse(placed.attempts![0].assignedAt));
  });

  it('checks a slice_interp GPU job’s config before any lease, says so while it waits, and fails it with the check’s reason', async () => {
    const w = worker('check-node', 1, 'recipecheck');
    w.startHeartbeats();
    const recipeSpec = (name: string): TrainingJobSpecInput => ({
      name,
      kind: 'slice_interp',
      resources: { gpus: 1, gpuType: 'recipecheck', waitForCapacity: true },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3 },
      config: { preset: 'cpu-tiny', vae: { weights: '/models/vae.safetensors' } },
    });
    const job = await submit(recipeSpec('recipecheck'));
    const order = await w.nextAssignment();
    expect(order).toMatchObject({ jobId: job.id, phase: 'environment', gpuIndices: [] });
    w.builds.add(job.id);
    expect((await get(job.id)).pendingReason).toContain('checking its config (files it names) on check-node');
    const reason = 'before the GPU lease, config check failed: vae.weights: ... missing 1: encoder.conv_in.conv.weight';
    await w.environment(order!, 'failed', { failureKind: 'preflight', reason });
    const failed = await waitFor(job.id, (j) => j.state === 'failed');
    expect(failed).toMatchObject({ reason, restarts: 0 });
    expect(failed.history.map((h) => h.state)).toEqual(['queued', 'failed']);
    expect(failed.history[1].failureKind).toBe('preflight');
    expect(failed.attempts ?? []).toEqual([]);
  });

  it('fails a job whose environment does not build, with no attempt; a build lost with its worker is placed again', async () => {
    const doomed = worker('env-doomed-node', 1, 'envfail');
    doomed.startHeartbeats();
    const job = await submit(spec('envfail', { environment: { requirements: ['hf-no-such-package==9.9'] } }));
    const lost = await doomed.nextAssignment();
    expect(lost?.phase).toBe('environment');
    doomed.stopHeartbeats(); // the worker dies mid-build
    const other = worker('env-other-node', 1, 'envfail');
    other.startHeartbeats();
    const again = await other.nextAssignment(20_000);
    expect(again).toMatchObject({ jobId: job.id, attempt: 1, phase: 'environment' });
    expect(again?.assignmentId).not.toBe(lost?.assignmentId);
    await doomed.environment(lost!, 'failed', { failureKind: 'environment', reason: 'too late' }); // ignored: not current
    const tail = 'installing the job’s requirements failed (pip exit code 1):\nERROR: No matching distribution found for hf-no-such-package==9.9';
    await other.environment(again!, 'failed', { failureKind: 'environment', reason: tail });
    const failed = await waitFor(job.id, (j) => j.state === 'failed');
    expect(failed.reason).toBe(tail);
    expect(failed.history.map((h) => h.state)).toEqual(['queued', 'failed']);
    expect(failed.history[1].failureKind).toBe('environment');
    expect(failed.attempts ?? []).toEqual([]);
    expect(failed.restarts).toBe(0);
  });

  it('builds an environment again after a failure by the worker’s fault, and gives up after five', async () => {
    const w = worker('env-infra-node', 1, 'envinfra');
    w.startHeartbeats();
    const job = await submit(spec('envinfra', { environment: { requirements: ['einops==0.8.0'] } }));
    const orders = new Set<string>();
    for (let i = 1; i <= 5; i += 1) {
      const order = await w.nextAssignment();
      expect(order).toMatchObject({ jobId: job.id, phase: 'environment' });
      orders.add(order!.assignmentId);
      await w.environment(order!, 'failed', { failureKind: 'infrastructure', reason: 'cannot get the job’s code: no connection' });
      if (i < 5) expect((await waitFor(job.id, (j) => j.environmentBuildFailures === i)).state).toBe('queued');
    }
    expect(orders.size).toBe(5);
    const failed = await waitFor(job.id, (j) => j.state === 'failed');
    expect(failed.reason).toContain('its environment build failed 5 times');
    expect(failed.history[failed.history.length - 1].failureKind).toBe('infrastructure');
    expect(failed.attempts ?? []).toEqual([]);
  });

  it('requeues the jobs of a worker that stops heartbeating, without spending a restart', async () => {
    const doomed = worker('doomed-node', 2, 'orphan');
    doomed.startHeartbeats();
    const job = await submit(spec('orphan', {}, 2));
    const a = await doomed.nextAssignment();
    expect(a?.workerId).toBe('doomed-node');
    await doomed.status(a!, 'running');
    await waitFor(job.id, (j) => j.state === 'running');
    doomed.stopHeartbeats();

    // Within the reconnect window the attempt stays assigned, and the job says why it waits.
    const waiting = await waitFor(job.id, (j) => (j.notices ?? []).some((n) => n.kind === 'worker_lost'), 10_000);
    expect(waiting).toMatchObject({ state: 'running', attempt: 1, workerId: 'doomed-node' });
    expect(waiting.notices?.find((n) => n.kind === 'worker_lost')?.message).toMatch(/worker doomed-node lost, waiting \d+ s for it to come back/);
    expect(await isCurrent('doomed-node', job.id, 1)).toMatchObject({ current: true });

    const rescue = worker('rescue-node', 2, 'orphan');
    rescue.startHeartbeats();
    const b = await rescue.nextAssignment(20_000);
    expect(b?.jobId).toBe(job.id);
    expect(b?.attempt).toBe(2);
    const requeued = await get(job.id);
    expect(requeued.restarts).toBe(0);
    expect(requeued.history.some((h) => /stopped sending heartbeats and did not come back within 6 s/.test(h.reason ?? ''))).toBe(true);
    // The lost agent, should it return, is told to stop its trainer instead of re-adopting it.
    expect(await isCurrent('doomed-node', job.id, 1)).toEqual({ current: false, reason: 'the job is at attempt 2 now' });
  });

  it('keeps the attempts of a worker that comes back within the reconnect window', async () => {
    const flaky = worker('flaky-node', 1, 'flaky');
    flaky.startHeartbeats();
    const job = await submit(spec('flaky'));
    const a = await flaky.nextAssignment();
    await flaky.status(a!, 'running');
    await waitFor(job.id, (j) => j.state === 'running');
    flaky.stopHeartbeats();
    await waitFor(job.id, (j) => (j.notices ?? []).some((n) => n.kind === 'worker_lost'), 10_000);

    // The restarted agent asks about its trainer, re-adopts it and lists it in its heartbeats again.
    expect(await isCurrent('flaky-node', job.id, 1)).toEqual({ current: true, reason: '' });
    expect(await isCurrent('other-node', job.id, 1)).toMatchObject({ current: false });
    flaky.startHeartbeats();
    await new Promise((r) => setTimeout(r, 8_000));
    expect(await get(job.id)).toMatchObject({ state: 'running', attempt: 1, workerId: 'flaky-node', restarts: 0 });
  });

  it('requeues an attempt its live worker stopped listing (an agent restart lost it), without spending a restart', async () => {
    const forgetful = worker('forgetful-node', 1, 'forgotten');
    forgetful.startHeartbeats();
    const job = await submit(spec('forgotten'));
    const a = await forgetful.nextAssignment();
    await forgetful.status(a!, 'running');
    await waitFor(job.id, (j) => j.state === 'running');
    // Still running while it is listed: a few seconds of heartbeats change nothing.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await get(job.id)).attempt).toBe(1);

    forgetful.running.clear(); // the agent restarted and knows nothing of attempt 1
    const b = await forgetful.nextAssignment(20_000);
    expect(b).toMatchObject({ jobId: job.id, attempt: 2 });
    const requeued = await get(job.id);
    expect(requeued.restarts).toBe(0);
    expect(requeued.history.some((h) => /no longer runs attempt 1/.test(h.reason ?? ''))).toBe(true);
  });

  it('stops backfilling a worker once a large job has waited too long, so the large job gets its GPUs', async () => {
    const node = worker('starve-node', 2, 'starve');
    node.startHeartbeats();
    const small = await submit(spec('starve'));
    const a = await node.nextAssignment();
    expect(a?.jobId).toBe(small.id);
    await node.status(a!, 'running');
    const large = await submit(spec('starve', {}, 2));
    // Before the reservation time, a small job may still backfill the free GPU.
    const early = await submit(spec('starve'));
    const b = await node.nextAssignment();
    expect(b?.jobId).toBe(early.id);
    await node.status(b!, 'running');
    await new Promise((r) => setTimeout(r, 2500));
    // The large job has now waited past HOUNSFIELD_RESERVE_AFTER_SECONDS: a GPU freed goes unused
    // by the small job queued behind it, until the large one fits.
    const late = await submit(spec('starve'));
    await node.status(a!, 'succeeded', { exitCode: 0 });
    expect(await node.nextAssignment(2500)).toBeUndefined();
    expect((await get(late.id)).state).toBe('queued');
    await node.status(b!, 'succeeded', { exitCode: 0 });
    const c = await node.nextAssignment();
    expect(c).toMatchObject({ jobId: large.id, gpuIndices: [0, 1] });
    await node.status(c!, 'running');
    await node.status(c!, 'succeeded', { exitCode: 0 });
    expect((await node.nextAssignment())?.jobId).toBe(late.id);
  });
});
