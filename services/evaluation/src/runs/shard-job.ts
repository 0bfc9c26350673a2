import { EvaluationSpec, JobSpecInput } from '@hounsfield/contracts';

/** The module every shard job runs (see `hounsfield.evaluation.shard`). */
export const SHARD_MODULE = 'hounsfield.evaluation.shard';

/**
 * A shard as a `script` job: one GPU (or one CPU process), the dataset root for the worker's
 * preflight, and the evaluation id and NATS URL as arguments (trainers do not inherit HOUNSFIELD_*).
 * The hyperparameters are the schema's required minimum; a shard does not train.
 */
export function shardJobSpec(evaluationId: string, spec: EvaluationSpec, shard: number, natsUrl: string): JobSpecInput {
  return {
    name: `eval-${evaluationId}-shard-${shard}`,
    kind: 'script',
    resources: { gpus: spec.device === 'gpu' ? 1 : 0, cpuProcesses: 1, waitForCapacity: true },
    hyperparameters: { globalBatch: 1, baseLr: 1e-3, lrScaling: 'none' },
    data: { root: spec.dataset.root, paths: [] },
    script: { module: SHARD_MODULE, args: ['--evaluation', evaluationId, '--nats-url', natsUrl] },
    maxRestarts: spec.maxShardRestarts,
    priority: spec.priority,
  };
}
