import { JobSpec, lrScaleFactor, ResolvedHyperparameters, TrainingJobSpec } from '@hounsfield/contracts';
import { nodesOf } from '../scheduling/gang-placement';

export class BatchResolutionError extends Error {
  constructor(
    message: string,
    /** Global batches near the requested one that would resolve at this world size. */
    readonly nearestValid: number[],
  ) {
    super(message);
    this.name = 'BatchResolutionError';
  }
}

/** Processes that train together: one per GPU, or the CPU process count for CPU jobs. */
export function worldSizeOf(spec: JobSpec): number {
  return nodesOf(spec) * (spec.resources.gpus > 0 ? spec.resources.gpus : spec.resources.cpuProcesses);
}

/** Smallest accumulation making the per-device batch integral and within the cap, or undefined. */
function accumulationFor(globalBatch: number, worldSize: number, cap: number | undefined): number | undefined {
  if (globalBatch % worldSize !== 0) return undefined;
  const perRank = globalBatch / worldSize;
  if (cap === undefined) return 1;
  for (let accum = 1; accum <= perRank; accum += 1) {
    if (perRank % accum === 0 && perRank / accum <= cap) return accum;
  }
  return undefined;
}

function nearestValidBatches(globalBatch: number, worldSize: number, cap: number | undefined): number[] {
  const found: number[] = [];
  for (let delta = 1; found.length < 2 && delta <= globalBatch + worldSize * 64; delta += 1) {
    for (const candidate of [globalBatch - delta, globalBatch + delta]) {
      if (candidate >= 1 && accumulationFor(candidate, worldSize, cap) !== undefined && !found.includes(candidate)) {
        found.push(candidate);
      }
    }
  }
  return found.sort((a, b) => a - b);
}

/**
 * Resolves the global batch into per-device batch × world size × accumulation steps, and scales
 * the learning rate against the reference batch: linear (Goyal et al. 2017), sqrt (Krizhevsky
 * 2014), or none. The global batch must divide exactly; nothing is silently rounded.
 * `perDeviceBatchCap` (learned from out-of-memory attempts) tightens `maxPerDeviceBatch`: more
 * accumulation, the same global batch and learning rate.
 */
/**
 * The per-device batch cap after an out-of-memory attempt that ran with `perDeviceBatch`: half of
 * it (rounded down), so the next resolution doubles (at least) the accumulation. Undefined when
 * the attempt already ran one sample per device: nothing smaller exists.
 */
export function halvedBatchCap(perDeviceBatch: number): number | undefined {
  return perDeviceBatch <= 1 ? undefined : Math.floor(perDeviceBatch / 2);
}

export function resolveHyperparameters(spec: TrainingJobSpec, worldSize = worldSizeOf(spec), perDeviceBatchCap?: number): ResolvedHyperparameters {
  const hp = spec.hyperparameters;
  const caps = [hp.maxPerDeviceBatch, perDeviceBatchCap].filter((c): c is number => c !== undefined);
  const cap = caps.length ? Math.min(...caps) : undefined;
  const accum = accumulationFor(hp.globalBatch, worldSize, cap);
  if (accum === undefined) {
    const nearest = nearestValidBatches(hp.globalBatch, worldSize, cap);
    const capText = cap === undefined ? '' : ` with at most ${cap} per device`;
    throw new BatchResolutionError(
      `global batch ${hp.globalBatch} does not divide over ${worldSize} process(es)${capText}; ` +
        `nearest valid global batches: ${nearest.join(', ')}`,
      nearest,
    );
  }
  const referenceBatch = hp.referenceBatch ?? hp.globalBatch;
  return {
    worldSize,
    globalBatch: hp.globalBatch,
    perDeviceBatch: hp.globalBatch / worldSize / accum,
    gradAccumSteps: accum,
    referenceBatch,
    baseLr: hp.baseLr,
    lrScaling: hp.lrScaling,
    lr: hp.baseLr * lrScaleFactor(hp.lrScaling, hp.globalBatch, referenceBatch),
  };
}
