import { lrScaleFactor, ResolvedHyperparameters } from '@hounsfield/contracts';

/** What the advice proposes instead of one sample per device. */
export interface BatchSuggestion {
  perDeviceBatch: number;
  globalBatch: number;
  /** The learning rate the job's own rule gives at that global batch. */
  lr: number;
  /** GPUs that would hold the current global batch at the proposed per-device batch. */
  gpusForCurrentBatch: number;
}

/** True for a per-device batch of 1 at `minWorldSize` processes or more. */
export function isTinyPerDeviceBatch(resolved: ResolvedHyperparameters, minWorldSize: number): boolean {
  return resolved.perDeviceBatch === 1 && resolved.worldSize >= minWorldSize;
}

/**
 * The usual intent behind a per-device batch of 1 is the reference batch *per device* (`--bs 8` on
 * 8 GPUs): propose that, bounded to 2–32, with the learning rate the job's scaling rule gives.
 */
export function suggestBatch(resolved: ResolvedHyperparameters): BatchSuggestion {
  const perDeviceBatch = Math.min(32, Math.max(2, resolved.referenceBatch));
  const globalBatch = perDeviceBatch * resolved.worldSize * resolved.gradAccumSteps;
  return {
    perDeviceBatch,
    globalBatch,
    lr: resolved.baseLr * lrScaleFactor(resolved.lrScaling, globalBatch, resolved.referenceBatch),
    gpusForCurrentBatch: Math.max(1, Math.floor(resolved.globalBatch / perDeviceBatch)),
  };
}
