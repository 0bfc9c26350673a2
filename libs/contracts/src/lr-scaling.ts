import { LrScalingRule } from './job-spec.schema';

/**
 * The factor a base learning rate is multiplied by when the global batch differs from the batch it
 * was tuned at: linear (Goyal et al. 2017), square root (Krizhevsky 2014), or none.
 */
export function lrScaleFactor(rule: LrScalingRule, globalBatch: number, referenceBatch: number): number {
  const ratio = globalBatch / referenceBatch;
  return rule === 'linear' ? ratio : rule === 'sqrt' ? Math.sqrt(ratio) : 1;
}
