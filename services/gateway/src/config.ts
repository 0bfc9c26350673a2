import { baseEnvSchema, parseEnv, portSchema } from '@hounsfield/runtime';
import { z } from 'zod';

export const gatewayEnvSchema = baseEnvSchema.extend({
  HOUNSFIELD_HTTP_PORT: portSchema.default(8080),
  /** Seconds between SSE keep-alive comments, so proxies keep idle streams open. */
  HOUNSFIELD_SSE_KEEPALIVE_SECONDS: z.coerce.number().positive().default(15),
  /** An admin token chosen by the operator (≥ 32 characters), registered at every start if missing. */
  HOUNSFIELD_ADMIN_TOKEN: z.string().min(32, 'at least 32 characters (for example `openssl rand -base64 32`)').optional(),
  /** A token for Prometheus to scrape the gateway's /metrics, registered at start for the `prometheus` user (viewer). */
  HOUNSFIELD_METRICS_SCRAPE_TOKEN: z.string().min(32, 'at least 32 characters').optional(),
  /** Where the first start writes the admin token it creates (mode 0600) when HOUNSFIELD_ADMIN_TOKEN is unset. */
  HOUNSFIELD_ADMIN_TOKEN_FILE: z.string().min(1).default('.hounsfield/admin-token'),
  /** Requests per second each token may make on average, and how many at once (token bucket). */
  HOUNSFIELD_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(50),
  HOUNSFIELD_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(200),
  /** Largest JSON request body, in bytes (checkpoint imports stream their file and have their own limit). */
  HOUNSFIELD_JSON_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  /** Largest legacy checkpoint file `POST /v1/checkpoints/import` accepts, in bytes. */
  HOUNSFIELD_IMPORT_MAX_BYTES: z.coerce.number().int().min(1).default(64 * 2 ** 30),
  /** Largest project archive `POST /v1/code/<digest>` accepts, in bytes (the CLI packs at most 64 MiB by default). */
  HOUNSFIELD_CODE_MAX_BYTES: z.coerce.number().int().min(1).default(256 * 2 ** 20),
});
export type GatewayConfig = z.infer<typeof gatewayEnvSchema>;
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseEnv(gatewayEnvSchema, env);
}
