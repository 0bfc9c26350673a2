import { describe, expect, it } from '@jest/globals';
import { TrainingJobSpec, trainingJobSpecSchema, TrainingJobSpecInput } from '@hounsfield/contracts';
import { BatchResolutionError, resolveHyperparameters } from './batch-resolution';

function spec(hp: Partial<TrainingJobSpecInput['hyperparameters']>, gpus = 8): TrainingJobSpec {
  return trainingJobSpecSchema.parse({
    name: 't',
    kind: 'pcdiff',
    resources: { gpus },
    hyperparameters: { globalBatch: 64, baseLr: 2e-4, ...hp },
  });
}

describe('batch and learning-rate resolution', () => {
  it('splits the global batch evenly over the world size', () => {
    const r = resolveHyperparameters(spec({ globalBatch: 56 }, 7));
    expect(r).toMatchObject({ worldSize: 7, perDeviceBatch: 8, gradAccumSteps: 1 });
    expect(r.perDeviceBatch * r.worldSize * r.gradAccumSteps).toBe(56);
  });

  it('scales the learning rate linearly, by square root, or not at all against the reference batch', () => {
    expect(resolveHyperparameters(spec({ globalBatch: 64, referenceBatch: 8, lrScaling: 'linear' })).lr).toBeCloseTo(2e-4 * 8, 12);
    expect(resolveHyperparameters(spec({ globalBatch: 64, referenceBatch: 8, lrScaling: 'sqrt' })).lr).toBeCloseTo(2e-4 * Math.sqrt(8), 12);
    expect(resolveHyperparameters(spec({ globalBatch: 64, referenceBatch: 8, lrScaling: 'none' })).lr).toBe(2e-4);
  });

  it('resolves a multi-node job over every process of every node (nodes × GPUs per node)', () => {
    const twoNodes = trainingJobSpecSchema.parse({ name: 't', kind: 'pcdiff', resources: { nodes: 2, gpus: 8 }, hyperparameters: { globalBatch: 64, baseLr: 2e-4 } });
    expect(resolveHyperparameters(twoNodes)).toMatchObject({ worldSize: 16, perDeviceBatch: 4, gradAccumSteps: 1 });
    const cpu = trainingJobSpecSchema.parse({ name: 't', kind: 'pcdiff', resources: { nodes: 3, gpus: 0, cpuProcesses: 2 }, hyperparameters: { globalBatch: 64, baseLr: 2e-4 } });
    expect(() => resolveHyperparameters(cpu)).toThrow('global batch 64 does not divide over 6 process(es); nearest valid global batches: 60, 66');
  });

  it('uses gradient accumulation when the per-device batch is capped', () => {
    const r = resolveHyperparameters(spec({ globalBatch: 64, maxPerDeviceBatch: 2 }, 8));
    expect(r).toMatchObject({ perDeviceBatch: 2, gradAccumSteps: 4 });
  });

  it('refuses a global batch that does not divide, naming the nearest valid ones', () => {
    // The field report's trap: --bs 8 on 7 GPUs silently became 1 per device.
    expect(() => resolveHyperparameters(spec({ globalBatch: 8 }, 7))).toThrow(BatchResolutionError);
    try {
      resolveHyperparameters(spec({ globalBatch: 8 }, 7));
    } catch (error) {
      expect((error as BatchResolutionError).nearestValid).toEqual([7, 14]);
      expect((error as Error).message).toMatch(/7, 14/);
    }
  });

  it('keeps the global batch when the world size changes on resume', () => {
    const s = spec({ globalBatch: 16 }, 2);
    const at2 = resolveHyperparameters(s, 2);
    const at1 = resolveHyperparameters(s, 1);
    expect(at2.perDeviceBatch * at2.worldSize * at2.gradAccumSteps).toBe(16);
    expect(at1.perDeviceBatch * at1.worldSize * at1.gradAccumSteps).toBe(16);
    expect(at1.lr).toBe(at2.lr);
  });
});
