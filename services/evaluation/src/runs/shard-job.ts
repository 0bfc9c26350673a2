import { EvaluationSpec, JobSpecInput } from '@hounsfield/contracts';

/** Files besides the dataset that the shard reads, for the worker's preflight (a slice_interp evaluation's VAE weights). */
function extraPaths(spec: EvaluationSpec): string[] {
  if (spec.kind !== 'slice_interp' || spec.vaeWeights === undefined) return [];
  return [spec.vaeWeights.startsWith('/') ? spec.vaeWeights : `${spec.dataset.root.replace(/\/+$/, '')}/${spec.vaeWeights}`];
}

/**
 * A shard as an `evaluation_shard` task: one GPU (or one CPU process) and the dataset root for the
 * worker's preflight. The worker runs it as a built-in task that asks this service for the rest
 * (context, grants) over its own authenticated subjects; the spec holds only references.
 */
export function shardJobSpec(evaluationId: string, spec: EvaluationSpec, shard: number): JobSpecInput {
  return {
    name: `eval-${evaluationId}-shard-${shard}`,
    kind: 'evaluation_shard',
    resources: { gpus: spec.device === 'gpu' ? 1 : 0, cpuProcesses: 1, waitForCapacity: true },
    data: { root: spec.dataset.root, paths: extraPaths(spec) },
    evaluationShard: { evaluationId, shard },
    maxRestarts: spec.maxShardRestarts,
    priority: spec.priority,
  };
}
