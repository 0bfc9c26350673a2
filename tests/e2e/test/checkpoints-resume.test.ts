import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TrainingJobSpecInput } from '@hounsfield/contracts';
import { downloadFile, finished, listCheckpoints, maxAbsDifference, readSafetensors, startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

/** hounsfield.examples.resumable_train: 60 steps of a global batch of 16, checkpoints every 10. */
function training(name: string, processes: number, patch: Partial<TrainingJobSpecInput> = {}, extraArgs: string[] = []): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'hounsfield.examples.resumable_train', args: ['--steps', '60', '--checkpoint-every', '10', ...extraArgs] },
    resources: { gpus: 0, cpuProcesses: processes },
    hyperparameters: { globalBatch: 16, baseLr: 0.05, seed: 0 },
    ...patch,
  };
}

describe('checkpoints through the whole stack: DDP on 2 CPU processes, killed, resumed on 1', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startCheckpointStack('ckpt-node');
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('ends with the parameters of an uninterrupted run, after a restart and after a world-size change', async () => {
    // The reference and the crashing job run side by side (CPU jobs share the worker).
    const [reference, crashed] = await Promise.all([
      finished(fixture, training('reference', 2)),
      finished(
        fixture,
        // keepEvery 20 keeps step 20 for the world-size-1 resume below; retention deletes 10, 30, 50.
        training('crashed', 2, { maxRestarts: 1, checkpoint: { keepLast: 1, keepEvery: 20 } }, ['--kill-at-step', '25']),
      ),
    ]);
    expect(reference.state).toBe('succeeded');
    expect(crashed.state).toBe('succeeded');

    // Attempt 1 was SIGKILLed after step 25; the scheduler restarted it from its latest committed checkpoint.
    expect(crashed.attempt).toBe(2);
    const restart = crashed.history.find((h) => h.attempt === 2 && h.state === 'assigned');
    expect(restart?.reason).toMatch(/resumes from checkpoint ck-[0-9a-f]{24} \(step 20\)/);
    const kept = await listCheckpoints(fixture, crashed.id);
    expect(kept.map((c) => [c.attempt, c.step])).toEqual([
      [2, 60],
      [2, 40],
      [1, 20],
    ]);
    expect(kept.find((c) => c.step === 20)?.meta).toMatchObject({ worldSize: 2, globalSampleIndex: 320, resolved: { worldSize: 2, perDeviceBatch: 8 } });

    // A new job resumes the killed attempt's step-20 checkpoint on one process: same global batch, same sample stream.
    const resumed = await finished(fixture, training('resumed-on-one', 1, { checkpoint: { keepLast: 3, resumeFrom: `${crashed.id}:20` } }));
    expect(resumed.state).toBe('succeeded');
    expect(resumed.resolved).toMatchObject({ worldSize: 1, globalBatch: 16, perDeviceBatch: 16 });
    const resumedCheckpoints = await listCheckpoints(fixture, resumed.id);
    expect(resumedCheckpoints.map((c) => c.step)).toEqual([60, 50, 40]);
    expect(resumedCheckpoints[0].meta.worldSize).toBe(1);

    const final = async (jobId: string) => readSafetensors(await downloadFile(fixture, `${jobId}:latest`, 'model.safetensors'));
    const expected = await final(reference.id);
    expect(expected.size).toBe(4);
    // Float tolerance: the order of the gradient sums differs between one and two processes.
    expect(maxAbsDifference(await final(crashed.id), expected)).toBeLessThan(1e-5);
    expect(maxAbsDifference(await final(resumed.id), expected)).toBeLessThan(1e-5);
  });
});
