import { z } from 'zod';
import { lrScalingRuleSchema } from './job-spec.schema';

/** Batch and learning rate as the platform resolved them for one world size. */
export const resolvedHyperparametersSchema = z
  .object({
    worldSize: z.number().int().min(1),
    globalBatch: z.number().int().min(1),
    perDeviceBatch: z.number().int().min(1),
    gradAccumSteps: z.number().int().min(1),
    referenceBatch: z.number().int().min(1),
    baseLr: z.number().positive(),
    lrScaling: lrScalingRuleSchema,
    lr: z.number().positive(),
  })
  .strict()
  .meta({ id: 'ResolvedHyperparameters' });
export type ResolvedHyperparameters = z.infer<typeof resolvedHyperparametersSchema>;
