import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack } from '@hounsfield/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST_ENV, Fixture, fixtureOf } from './stack-fixture';

/**
 * A worker agent inside a (simulated) Slurm allocation, `python -m hounsfield.worker --slurm`:
 * it reports exactly the allocation's GPUs, drains before the allocation ends (the trainer
 * checkpoints and stops, the job is requeued without spending a restart) and exits, and an agent
 * with nothing to run exits after its idle time. The SLURM_* variables are what sbatch/srun set
 * on a node (deploy/slurm/hounsfield-worker.sbatch); HOUNSFIELD_SLURM_END_TIME stands in for
 * SLURM_JOB_END_TIME so that the end is a few seconds away.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** hounsfield.examples.resumable_train for far longer than the allocation: it checkpoints on SIGTERM. */
const longTraining: TrainingJobSpecInput = {
  name: 'outlives-the-allocation',
  kind: 'script',
  script: { module: 'hounsfield.examples.resumable_train', args: ['--steps', '100000000', '--checkpoint-every', '1000000'] },
  resources: { gpus: 1, cpuProcesses: 1 },
  hyperparameters: { globalBatch: 16, baseLr: 0.05, seed: 0 },
  maxRestarts: 0,
};

describe('workers inside Slurm allocations (real stack, real Python agents, simulated SLURM_* variables)', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-slurm-'));
    const stack = await LocalStack.start({
      dataDir,
      env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects') },
    });
    fixture = fixtureOf(stack, dataDir);
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('exits by itself after its idle time when nothing is placed on it', async () => {
    const started = Date.now();
    const agent = fixture.stack.startWorker({
      workerId: 'slurm-idle',
      env: { HOUNSFIELD_SLURM: 'true', SLURM_JOB_ID: '4241', SLURM_GPUS_ON_NODE: '0', HOUNSFIELD_IDLE_EXIT_SECONDS: '3' },
    });
    await until('the idle agent to register', async () => ((await fixture.client.listWorkers()).some((w) => w.workerId === 'slurm-idle') ? true : undefined));
    expect(await agent.wait()).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  });

  it('reports only the allocation GPUs, drains before the allocation ends and its job is requeued without spending a restart', async () => {
    // The node has 4 GPUs; the allocation holds devices 1 and 3. The drain starts 20 s before the end.
    const endTime = Date.now() / 1000 + 60;
    const agent = fixture.stack.startWorker({
      workerId: 'slurm-node',
      fakeGpus: '4',
      env: {
        HOUNSFIELD_SLURM: 'true',
        SLURM_JOB_ID: '4242',
        SLURM_JOB_GPUS: '1,3',
        CUDA_VISIBLE_DEVICES: '1,3',
        HOUNSFIELD_SLURM_END_TIME: endTime.toFixed(3),
        HOUNSFIELD_SLURM_DRAIN_SECONDS: '20',
        HOUNSFIELD_STOP_GRACE_SECONDS: '15',
      },
    });
    const worker = await until('the Slurm agent to register', async () => (await fixture.client.listWorkers()).find((w) => w.workerId === 'slurm-node'));
    expect(worker.gpus.map((g) => [g.index, g.uuid])).toEqual([
      [0, 'FAKE-slurm-node-1'],
      [1, 'FAKE-slurm-node-3'],
    ]);

    const submitted = await fixture.client.submitJob(longTraining);
    const running = await fixture.client.waitForState(submitted.id, ['running'], 40_000);
    expect(running.workerId).toBe('slurm-node');
    // Reported GPU 0 is the node's device 1: what the trainer gets in CUDA_VISIBLE_DEVICES.
    expect(running.cudaVisibleDevices).toBe('0');

    // The drain: the agent stops taking work, the trainer checkpoints on SIGTERM, the agent exits 0 before the end.
    expect(await agent.wait()).toBe(0);
    expect(Date.now() / 1000).toBeLessThan(endTime);

    // No other worker exists, so the requeued job waits in the queue as attempt 2.
    const requeued = await until('the job to be requeued', async () => {
      const job = await fixture.client.getJob(submitted.id);
      return job.state === 'queued' && job.attempt === 2 ? job : undefined;
    });
    expect(requeued.restarts).toBe(0);
    expect(requeued.attempts?.find((a: NonNullable<JobRecord['attempts']>[number]) => a.attempt === 1)?.outcome).toBe('preempted');
    expect(requeued.history[requeued.history.length - 1].reason).toMatch(/^preempted: .*; requeued as attempt 2$/);
    // Draining, the agent offered no job kinds any more: its own requeued job was not placed back on it.
    await until('the drained agent to leave the pool', async () => ((await fixture.client.listWorkers()).some((w) => w.workerId === 'slurm-node') ? undefined : true));
    const afterwards = await fixture.client.getJob(submitted.id);
    expect([afterwards.state, afterwards.attempt, afterwards.history.filter((h) => h.state === 'assigned').length]).toEqual(['queued', 2, 1]);
    // The trainer's checkpoint on SIGTERM is committed: the next attempt resumes from it.
    const checkpoints = await fixture.client.listCheckpoints(submitted.id);
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(checkpoints[0].attempt).toBe(1);
    expect(checkpoints[0].step).toBeGreaterThan(0);
    await fixture.client.cancelJob(submitted.id);
  });
});
