import { z } from 'zod';
import { identifierSchema, schemaVersionSchema } from './common.schema';
import { jobSpecSchema } from './job-spec.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';

/** Local paths of one attempt, on the worker that runs it. */
export const trainerPathsSchema = z
  .object({
    /** Where the trainer writes its outputs and checkpoints (created by the agent). */
    outputDir: z.string().min(1).max(4096),
    /** The JSON-lines report file rank 0 appends to and the agent tails. */
    reportFile: z.string().min(1).max(4096),
    /** A downloaded, verified checkpoint directory to resume the full training state from. */
    resumeFrom: z.string().min(1).max(4096).optional(),
    /** A downloaded, verified checkpoint directory to take initial weights from (`checkpoint.initFrom`). */
    initFrom: z.string().min(1).max(4096).optional(),
    /** The dataset root named in `spec.data.root`, resolved by preflight inside the worker's data roots. */
    dataRoot: z.string().min(1).max(4096).optional(),
  })
  .strict()
  .meta({ id: 'TrainerPaths' });
export type TrainerPaths = z.infer<typeof trainerPathsSchema>;

/**
 * Everything a trainer process learns from the platform about its attempt, in one validated
 * document: the agent writes it into the attempt directory and points HOUNSFIELD_CONTEXT at it;
 * the SDK reads it (torchrun's RANK/WORLD_SIZE/LOCAL_RANK come from the environment as usual).
 */
export const trainerContextSchema = z
  .object({
    v: schemaVersionSchema,
    jobId: identifierSchema,
    attempt: z.number().int().min(1),
    workerId: identifierSchema,
    /** The job spec as stored (defaults applied): config, hyperparameters, checkpoint policy, data. */
    spec: jobSpecSchema,
    /** The batch split and learning rate the scheduler resolved for this attempt's world size (training only). */
    resolved: resolvedHyperparametersSchema.optional(),
    paths: trainerPathsSchema,
  })
  .strict()
  .meta({ id: 'TrainerContext' });
export type TrainerContext = z.infer<typeof trainerContextSchema>;
