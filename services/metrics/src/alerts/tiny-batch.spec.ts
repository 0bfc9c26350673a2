import { describe, expect, it } from '@jest/globals';
import { ResolvedHyperparameters } from '@hounsfield/contracts';
import { isTinyPerDeviceBatch, suggestBatch } from './tiny-batch';

const resolved = (patch: Partial<ResolvedHyperparameters>): ResolvedHyperparameters => ({
  worldSize: 7, globalBatch: 7, perDeviceBatch: 1, gradAccumSteps: 1, referenceBatch: 8, baseLr: 2e-4, lrScaling: 'linear', lr: 1.75e-4, ...patch,
});

describe('tiny per-device batch', () => {
  it('is one sample per device at the configured world size or more', () => {
    expect(isTinyPerDeviceBatch(resolved({}), 4)).toBe(true);
    expect(isTinyPerDeviceBatch(resolved({ worldSize: 2, globalBatch: 2 }), 4)).toBe(false);
    expect(isTinyPerDeviceBatch(resolved({ perDeviceBatch: 2, globalBatch: 14 }), 4)).toBe(false);
  });

  it('proposes the reference batch per device, with the LR of the job\'s own rule', () => {
    // --bs 8 on 7 GPUs: 8 per device is global batch 56; linear 2e-4 × 56/8, sqrt 2e-4 × √7, none 2e-4.
    expect(suggestBatch(resolved({}))).toEqual({ perDeviceBatch: 8, globalBatch: 56, lr: 2e-4 * 7, gpusForCurrentBatch: 1 });
    expect(suggestBatch(resolved({ lrScaling: 'sqrt' })).lr).toBeCloseTo(2e-4 * Math.sqrt(7), 15);
    expect(suggestBatch(resolved({ lrScaling: 'none' })).lr).toBe(2e-4);
    // Accumulation stays: 8 per device × 7 × 4 steps.
    expect(suggestBatch(resolved({ gradAccumSteps: 4, globalBatch: 28 })).globalBatch).toBe(224);
  });
});
