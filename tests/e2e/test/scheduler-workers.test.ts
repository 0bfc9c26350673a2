import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { HounsfieldApiError } from '@hounsfield/client';
import { Fixture, startFixture, startRegisteredWorker } from './stack-fixture';

/** A count job; `gpuType` pins it to the GPUs of one scenario's worker. */
function count(name: string, gpus: number, gpuType: string, args: string[], patch: Partial<TrainingJobSpecInput> = {}): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'hounsfield.examples.count', args },
    resources: { gpus, gpuType },
    hyperparameters: { globalBatch: 8 * Math.max(gpus, 1), baseLr: 0.001 },
    ...patch,
  };
}

const fakeGpus = (name: string, devices: Record<string, unknown>[]) => JSON.stringify(devices.map((d) => ({ name, memoryGiB: 80, ...d })));

async function expectProblem(promise: Promise<unknown>, status: number): Promise<HounsfieldApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HounsfieldApiError);
    expect((error as HounsfieldApiError).status).toBe(status);
    return error as HounsfieldApiError;
  }
  throw new Error(`expected HTTP ${status}`);
}

describe('scheduling on simulated GPU workers (real scheduler, real Python agents)', () => {
  let fixture: Fixture;
  const done = ['succeeded', 'failed', 'cancelled'] as const;
  const wait = (job: JobRecord, states: JobRecord['state'][] = [...done], timeoutMs = 120_000) =>
    fixture.client.waitForState(job.id, states, timeoutMs);

  beforeAll(async () => {
    fixture = await startFixture();
    await Promise.all([
      startRegisteredWorker(fixture, { workerId: 'node8', fakeGpus: '8xH100-80GB' }),
      startRegisteredWorker(fixture, { workerId: 'node2', fakeGpus: '2xH100-80GB' }),
    ]);
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('runs a 7-GPU and a 1-GPU job side by side on one 8-GPU worker with disjoint devices', async () => {
    const args = ['--steps', '25', '--sleep', '0.2'];
    const seven = await fixture.client.submitJob(count('diffusion-7', 7, 'H100', args));
    const one = await fixture.client.submitJob(count('voxelization-1', 1, 'H100', args));
    const [a, b] = await Promise.all([wait(seven), wait(one)]);
    expect([a.state, b.state]).toEqual(['succeeded', 'succeeded']);
    expect(a.workerId).toBe('node8');
    expect(b.workerId).toBe('node8');
    const devicesA = (a.runtime?.cudaVisibleDevices ?? '').split(',');
    const devicesB = (b.runtime?.cudaVisibleDevices ?? '').split(',');
    expect(devicesA).toHaveLength(7);
    expect(devicesB).toHaveLength(1);
    expect(new Set([...devicesA, ...devicesB]).size).toBe(8);
    expect(a.runtime?.worldSize).toBe(7);
    // Both ran at the same time.
    expect(Date.parse(a.startedAt!)).toBeLessThan(Date.parse(b.finishedAt!));
    expect(Date.parse(b.startedAt!)).toBeLessThan(Date.parse(a.finishedAt!));
  });

  it('places by best fit: the smallest free block that holds the job', async () => {
    const job = await fixture.client.submitJob(count('two', 2, 'H100', ['--steps', '1', '--sleep', '0']));
    const final = await wait(job);
    expect(final.state).toBe('succeeded');
    expect(final.workerId).toBe('node2');
  });

  it('skips GPUs held by foreign processes or above the utilisation threshold', async () => {
    await startRegisteredWorker(fixture, {
      workerId: 'shared',
      fakeGpus: fakeGpus('Shared A40', [{ foreignProcesses: true, memoryUsedGiB: 30 }, { utilizationPercent: 99 }, {}, {}]),
    });
    const job = await fixture.client.submitJob(count('polite', 2, 'Shared A40', ['--steps', '1', '--sleep', '0']));
    const final = await wait(job);
    expect(final.state).toBe('succeeded');
    expect(final.runtime?.cudaVisibleDevices).toBe('2,3');
  });

  it('orders the queue by priority then age, with an actionable pending reason and position', async () => {
    await startRegisteredWorker(fixture, { workerId: 'solo', fakeGpus: fakeGpus('Solo L4', [{}]) });
    const blocker = await fixture.client.submitJob(count('blocker', 1, 'Solo L4', ['--steps', '30', '--sleep', '0.1']));
    await wait(blocker, ['running']);
    const low = await fixture.client.submitJob(count('low', 1, 'Solo L4', ['--steps', '1', '--sleep', '0'], { priority: 0 }));
    const high = await fixture.client.submitJob(count('high', 1, 'Solo L4', ['--steps', '1', '--sleep', '0'], { priority: 10 }));
    const [lowView, highView] = await Promise.all([fixture.client.getJob(low.id), fixture.client.getJob(high.id)]);
    expect(highView.queuePosition).toBe(1);
    expect(lowView.queuePosition).toBe(2);
    expect(highView.pendingReason).toMatch(/needs 1 Solo L4 GPU on one worker/);
    expect(highView.pendingReason).toMatch(/leased to other jobs/);
    const [lowDone, highDone] = await Promise.all([wait(low), wait(high)]);
    expect(Date.parse(highDone.startedAt!)).toBeLessThan(Date.parse(lowDone.startedAt!));
  });

  it('refuses with 422 a job no registered worker could ever hold, and a global batch that does not divide', async () => {
    const impossible = await expectProblem(fixture.client.submitJob(count('huge', 16, 'H100', [])), 422);
    expect(impossible.problem.detail).toMatch(/needs 16 H100 GPUs on one worker; the most any registered worker has is 8 \(node8\)/);
    const uneven = await expectProblem(
      fixture.client.submitJob({ ...count('uneven', 3, 'H100', []), hyperparameters: { globalBatch: 8, baseLr: 1e-3 } }),
      422,
    );
    expect(uneven.problem.nearestValidGlobalBatches).toEqual([6, 9]);
    expect(uneven.problem.errors?.[0].path).toBe('hyperparameters.globalBatch');
    // The same job may wait for capacity when asked to.
    const waiting = await fixture.client.submitJob({ ...count('patient', 16, 'H100', []), resources: { gpus: 16, waitForCapacity: true } });
    expect(waiting.state).toBe('queued');
    expect((await fixture.client.getJob(waiting.id)).pendingReason).toMatch(/largest free block is/);
    await fixture.client.cancelJob(waiting.id);
  });

  it('hands the resolved per-device batch and learning rate to the trainer', async () => {
    const job = await fixture.client.submitJob({
      name: 'resolved',
      kind: 'script',
      script: { module: 'hounsfield.examples.tiny_train', args: ['--steps', '20', '--log-every', '5'] },
      resources: { gpus: 2, gpuType: 'H100' },
      hyperparameters: { globalBatch: 32, referenceBatch: 8, baseLr: 0.01, lrScaling: 'linear', maxPerDeviceBatch: 8 },
    });
    expect(job.resolved).toMatchObject({ worldSize: 2, perDeviceBatch: 8, gradAccumSteps: 2, lr: 0.04 });
    const final = await wait(job);
    expect(final.state).toBe('succeeded');
    expect(final.lastProgress?.lr).toBeCloseTo(0.04, 10);
    expect(final.lastProgress?.metrics.per_device_batch).toBe(8);
    expect(final.lastProgress?.metrics.grad_accum_steps).toBe(2);
  });

  it('requeues a failing trainer until its restarts are spent', async () => {
    const job = await fixture.client.submitJob({
      name: 'flaky',
      kind: 'script',
      script: { module: 'hounsfield.examples.exit_code', args: ['--code', '4'] },
      hyperparameters: { globalBatch: 1, baseLr: 1e-3 },
      maxRestarts: 2,
    });
    const final = await wait(job, ['failed']);
    expect(final).toMatchObject({ state: 'failed', attempt: 3, restarts: 2, exitCode: 4 });
    expect(final.history.filter((h) => h.state === 'queued')).toHaveLength(3);
  });

  it('stops a cancelled job with SIGTERM, then SIGKILL after the grace period', async () => {
    const stubborn = await fixture.client.submitJob(count('stubborn', 1, 'H100', ['--steps', '1000', '--sleep', '0.1', '--ignore-sigterm']));
    await wait(stubborn, ['running']);
    // Its first progress report comes after it set SIGTERM aside: a SIGTERM before that would end it at once.
    const deadline = Date.now() + 60_000;
    while (((await fixture.client.getJob(stubborn.id)).lastProgress?.step ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const asked = Date.now();
    const accepted = await fixture.client.cancelJob(stubborn.id, 2);
    expect(accepted.cancelRequested).toBe(true);
    const final = await wait(stubborn, ['cancelled', 'failed', 'succeeded'], 30_000);
    expect(final.state).toBe('cancelled');
    expect(Date.parse(final.finishedAt!) - asked).toBeGreaterThanOrEqual(1900);

    const cooperative = await fixture.client.submitJob(count('cooperative', 1, 'H100', ['--steps', '1000', '--sleep', '0.1']));
    await wait(cooperative, ['running']);
    await fixture.client.cancelJob(cooperative.id, 30);
    const stopped = await wait(cooperative, ['cancelled', 'failed', 'succeeded'], 20_000);
    expect(stopped.state).toBe('cancelled');
    // The GPUs come back only after the processes are gone.
    const workers = await fixture.client.listWorkers();
    expect(workers.flatMap((w) => w.gpus).filter((g) => g.leasedBy === cooperative.id || g.leasedBy === stubborn.id)).toEqual([]);
  });

  it('refuses data paths outside the worker data roots in preflight, without retrying', async () => {
    const job = await fixture.client.submitJob({
      ...count('escape', 0, 'H100', ['--steps', '1']),
      resources: { gpus: 0 },
      data: { root: '../../etc', paths: [] },
      maxRestarts: 3,
    });
    const final = await wait(job, ['failed']);
    expect(final.attempt).toBe(1);
    expect(final.reason).toMatch(/preflight/i);
    expect(final.reason).toMatch(/outside the worker's data roots/);
  });

  it('requeues the job of an agent killed with SIGKILL on another worker, spending no restart', async () => {
    await startRegisteredWorker(fixture, { workerId: 'mortal', fakeGpus: fakeGpus('Mortal T4', [{}]) });
    const job = await fixture.client.submitJob(count('survivor', 1, 'Mortal T4', ['--steps', '40', '--sleep', '0.1']));
    const running = await wait(job, ['running']);
    expect(running.workerId).toBe('mortal');
    await fixture.stack.workers.get('mortal')?.kill();
    await startRegisteredWorker(fixture, { workerId: 'heir', fakeGpus: fakeGpus('Mortal T4', [{}]) });
    const final = await wait(job, ['succeeded', 'failed'], 120_000);
    expect(final).toMatchObject({ state: 'succeeded', workerId: 'heir', attempt: 2, restarts: 0 });
    expect(final.history.some((h) => /stopped sending heartbeats/.test(h.reason ?? ''))).toBe(true);
  });

  it('loses and duplicates nothing when the scheduler is killed mid-flight', async () => {
    const jobs = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => fixture.client.submitJob(count(`burst-${i}`, 1, 'H100', ['--steps', '3', '--sleep', '0.2']))),
    );
    await new Promise((r) => setTimeout(r, 700));
    await fixture.stack.services.get('scheduler')?.kill();
    await fixture.stack.startService('scheduler');
    const finals = await Promise.all(jobs.map((j) => wait(j, ['succeeded', 'failed'], 120_000)));
    for (const final of finals) {
      expect(final.state).toBe('succeeded');
      expect(final.attempt).toBe(1);
      expect(final.history.filter((h) => h.state === 'running')).toHaveLength(1);
    }
  });
});
