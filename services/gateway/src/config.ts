import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const gatewayEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_HTTP_PORT: portSchema.default(8080),
  /** Seconds between SSE keep-alive comments, so proxies keep idle streams open. */
  HOUNSFIELD_SSE_KEEPALIVE_SECONDS: z.coerce.number().positive().default(15),
});
export type GatewayConfig = z.infer<typeof gatewayEnvSchema>;
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseEnv(gatewayEnvSchema, env);
}
