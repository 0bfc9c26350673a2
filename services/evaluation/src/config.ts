import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const evaluationEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_EVALUATION_PORT: portSchema.default(8084),
});
export type EvaluationConfig = z.infer<typeof evaluationEnvSchema>;

export function loadEvaluationConfig(env: NodeJS.ProcessEnv = process.env): EvaluationConfig {
  return parseEnv(evaluationEnvSchema, env);
}
