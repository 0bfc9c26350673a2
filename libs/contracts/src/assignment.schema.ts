import { z } from 'zod';
import { identifierSchema, schemaVersionSchema, timestampSchema } from './common.schema';
import { jobSpecSchema } from './job-spec.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';

/**
 * This worker's part of a multi-node attempt: its node rank among `nnodes`, and torchrun's c10d
 * rendezvous on node 0's worker (`host:port`, id `<job>-<attempt>`).
 */
export const nodePlacementSchema = z
  .object({
    nodeRank: z.number().int().min(0),
    nnodes: z.number().int().min(2).max(64),
    rdzvHost: z.string().min(1).max(255),
    rdzvPort: z.number().int().min(1).max(65535),
    rdzvId: z.string().min(1).max(200),
  })
  .strict()
  .meta({ id: 'NodePlacement' });
export type NodePlacement = z.infer<typeof nodePlacementSchema>;

/** The scheduler's order to one worker: run this attempt of this job on these GPUs. */
export const assignmentSchema = z
  .object({
    v: schemaVersionSchema,
    assignmentId: z.string().min(1).max(128),
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    spec: jobSpecSchema,
    /** Physical GPU indices on the worker; empty for CPU jobs. */
    gpuIndices: z.array(z.number().int().min(0)),
    /** Exactly what the trainer's CUDA_VISIBLE_DEVICES is set to ("" for CPU jobs). */
    cudaVisibleDevices: z.string(),
    nprocPerNode: z.number().int().min(1),
    /** Multi-node attempts only: this node's rank and the rendezvous (absent: a one-node `--standalone` run). */
    node: nodePlacementSchema.optional(),
    /** Batch and learning rate at this world size (training only; internal tasks have none). */
    resolved: resolvedHyperparametersSchema.optional(),
    /** Checkpoint to resume from, resolved by the scheduler (absent on a fresh start). */
    resumeFrom: z.string().min(1).max(1024).optional(),
    /** Checkpoint (id) to take initial weights from, resolved from `spec.checkpoint.initFrom` on a fresh start. */
    initFrom: z.string().min(1).max(1024).optional(),
    /**
     * `environment`: not an attempt, but the job's environment phase: fetch its code and build (or
     * find cached) its per-job environment, then report an `environment` event; no GPU is leased
     * and no trainer starts. Absent: run the attempt.
     */
    phase: z.enum(['environment']).optional(),
    issuedAt: timestampSchema,
  })
  .strict()
  .meta({ id: 'Assignment' });
export type Assignment = z.infer<typeof assignmentSchema>;
