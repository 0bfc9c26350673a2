import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const checkpointsEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_CHECKPOINTS_PORT: portSchema.default(8082),
});
export type CheckpointsConfig = z.infer<typeof checkpointsEnvSchema>;

export function loadCheckpointsConfig(env: NodeJS.ProcessEnv = process.env): CheckpointsConfig {
  return parseEnv(checkpointsEnvSchema, env);
}
