import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const metricsEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_METRICS_PORT: portSchema.default(8083),
});
export type MetricsConfig = z.infer<typeof metricsEnvSchema>;

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return parseEnv(metricsEnvSchema, env);
}
