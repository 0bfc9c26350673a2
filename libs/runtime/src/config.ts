import { z } from 'zod';

/** Settings every service shares. Defaults are the local stack's (`npm start`). */
export const baseEnvSchema = z.object({
  HOUNSFIELD_NATS_URL: z.string().regex(/^nats:\/\/.+/, 'a NATS URL such as nats://127.0.0.1:14222').default('nats://127.0.0.1:14222'),
  HOUNSFIELD_REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'a Redis URL such as redis://127.0.0.1:16379').default('redis://127.0.0.1:16379'),
  /** Redis `requirepass` (kept out of the URL so that logs never show it). */
  HOUNSFIELD_REDIS_PASSWORD: z.string().min(1).optional(),
  /** This service's NATS user and password (see libs/messaging/src/nats-permissions.ts for what each may do). */
  HOUNSFIELD_NATS_USER: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'a NATS user name such as service-gateway').optional(),
  HOUNSFIELD_NATS_PASSWORD: z.string().min(1).optional(),
  /** Key prefix, so several stacks (or tests) can share one Redis. */
  HOUNSFIELD_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]*$/).default('hf:'),
  HOUNSFIELD_BIND_HOST: z.string().default('127.0.0.1'),
  /**
   * Copies of every JetStream stream the services provision: 1 on a single NATS server, 3 on a
   * NATS cluster (deploy/kubernetes overlay `cluster`), so a lost server loses no message.
   */
  HOUNSFIELD_JETSTREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  HOUNSFIELD_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});
export type BaseConfig = z.infer<typeof baseEnvSchema>;

/** How a service connects to NATS and Redis: its secrets, and how many copies of its streams NATS keeps. */
export type ServiceConnection = Pick<BaseConfig, 'HOUNSFIELD_NATS_USER' | 'HOUNSFIELD_NATS_PASSWORD' | 'HOUNSFIELD_REDIS_PASSWORD'> &
  Partial<Pick<BaseConfig, 'HOUNSFIELD_JETSTREAM_REPLICAS'>>;

export const portSchema = z.coerce.number().int().min(0).max(65535);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once at boot. A bad value stops the service with a message that names
 * each variable and what it should look like.
 */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message} (got ${JSON.stringify(
    issue.path.length ? env[String(issue.path[0])] : undefined,
  )})`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
