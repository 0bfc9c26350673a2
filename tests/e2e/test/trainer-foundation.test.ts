import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints } from './checkpoints-fixture';
import { FAST_ENV, Fixture, fixtureOf, startRegisteredWorker } from './stack-fixture';
import { LocalStack } from '@hounsfield/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function post(fixture: Fixture, body: unknown): Promise<{ status: number; problem: { detail: string; errors?: { path: string; message: string }[] } }> {
  const response = await fixture.api('/v1/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, problem: (await response.json()) as never };
}

const pcdiff = (config: Record<string, unknown>): TrainingJobSpecInput => ({
  name: 'pcdiff-config',
  kind: 'pcdiff',
  hyperparameters: { globalBatch: 4, baseLr: 1e-3 },
  config,
});

/**
 * Issue #12 on the real stack: kinds workers do not provide are refused at once, configs are
 * checked against the recipe's schema, out-of-memory attempts are retried with a smaller
 * per-device batch, and validation metrics reach events and retention.
 */
describe('the trainer foundation on the stack', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-foundation-'));
    const stack = await LocalStack.start({
      dataDir,
      env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects') },
    });
    fixture = fixtureOf(stack, dataDir);
    // A GPU worker (simulated) whose installation offers only some kinds, and a CPU worker.
    await startRegisteredWorker(fixture, { workerId: 'gpu-node', fakeGpus: '2', env: { HOUNSFIELD_KINDS: 'pcdiff,voxelization,script' } });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('refuses a kind no registered worker provides with 422 at once, leasing nothing', async () => {
    const started = Date.now();
    const { status, problem } = await post(fixture, {
      name: 'too-early',
      kind: 'topo_unet',
      resources: { gpus: 1 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3 },
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(status).toBe(422);
    expect(problem.detail).toContain('no registered worker runs jobs of kind topo_unet');
    const [worker] = await fixture.client.listWorkers();
    expect(worker.gpus.every((gpu) => gpu.leasedBy === undefined)).toBe(true);
    // With waitForCapacity it queues and says why.
    const queued = await fixture.client.submitJob({
      name: 'waits-for-kind',
      kind: 'topo_unet',
      resources: { gpus: 1, waitForCapacity: true },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3 },
    });
    const view = await fixture.client.getJob(queued.id);
    expect(view.pendingReason).toContain('no registered worker runs jobs of kind topo_unet');
    await fixture.client.cancelJob(queued.id);
  });

  it('answers a mistyped config field and an unknown preset with 400s that say what to fix', async () => {
    const typo = await post(fixture, pcdiff({ presett: 'cpu-tiny' }));
    expect(typo.status).toBe(400);
    expect(typo.problem.errors?.[0]).toEqual({ path: 'config.presett', message: expect.stringContaining('unknown field presett; allowed:') });
    const preset = await post(fixture, pcdiff({ preset: 'nope' }));
    expect(preset.status).toBe(400);
    expect(preset.problem.errors?.[0]).toEqual({
      path: 'config.preset',
      message: 'unknown preset "nope"; the pcdiff presets are cpu-tiny, paper-skullbreak, paper-skullfix',
    });
  });

  it('retries an out-of-memory attempt with half the per-device batch until it fits, without spending restarts', async () => {
    const submitted = await fixture.client.submitJob({
      name: 'oom-probe',
      kind: 'script',
      script: { module: 'hounsfield.examples.oom_probe', args: ['--fits', '4', '--steps', '4', '--checkpoint-every', '2'] },
      resources: { gpus: 0, cpuProcesses: 1 },
      hyperparameters: { globalBatch: 16, baseLr: 0.05 },
      maxRestarts: 0,
      checkpoint: { keepLast: 10 },
    });
    const job = await fixture.client.waitForState(submitted.id, ['succeeded', 'failed'], 240_000);
    expect(job.state).toBe('succeeded');
    expect(job.restarts).toBe(0);
    const split = (job.attempts ?? []).map((a) => [a.perDeviceBatch, a.gradAccumSteps, a.outcome, a.failureKind]);
    expect(split).toEqual([
      [16, 1, 'failed', 'oom'],
      [8, 2, 'failed', 'oom'],
      [4, 4, 'succeeded', undefined],
    ]);
    expect(job.resolved).toMatchObject({ globalBatch: 16, perDeviceBatch: 4, gradAccumSteps: 4, lr: 0.05 });
    const checkpoints = await listCheckpoints(fixture, job.id);
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    for (const checkpoint of checkpoints) expect(checkpoint.meta.resolved).toMatchObject({ globalBatch: 16, lr: 0.05 });
  });

  it('reports validation as val.* progress and keeps the checkpoint that is best by it', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'validated-voxelizer',
      kind: 'voxelization',
      hyperparameters: { globalBatch: 2, baseLr: 3e-3, maxSteps: 6 },
      checkpoint: { everySteps: 2, keepLast: 1, keepBest: { metric: 'val.psr_l2', mode: 'min' } },
      config: {
        preset: 'cpu-tiny',
        synthetic: { subjects: 2, shape: 32 },
        logEvery: 2,
        validation: { everySteps: 2, split: 'train', maxCases: 2 },
      },
    };
    const submitted = await fixture.client.submitJob(spec);
    const events: JobEvent[] = [];
    for await (const event of fixture.client.jobEvents(submitted.id)) events.push(event);
    const job: JobRecord = await fixture.client.getJob(submitted.id);
    expect(job.state).toBe('succeeded');
    const validations = events.flatMap((e) => (e.type === 'progress' && 'val.psr_l2' in e.metrics ? [{ step: e.step, value: e.metrics['val.psr_l2'] as number }] : []));
    expect(validations.map((v) => v.step)).toEqual([2, 4, 6]);
    const best = validations.reduce((a, b) => (b.value < a.value ? b : a));
    const kept = await listCheckpoints(fixture, job.id);
    const keptSteps = kept.map((c) => c.step).sort((a, b) => a - b);
    expect(keptSteps).toEqual([...new Set([best.step, 6])].sort((a, b) => a - b));
    for (const checkpoint of kept) expect(checkpoint.meta.metrics['val.psr_l2']).toBeCloseTo(validations.find((v) => v.step === checkpoint.step)!.value, 6);
  });
});
