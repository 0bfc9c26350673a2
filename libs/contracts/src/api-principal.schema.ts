import { z } from 'zod';
import { timestampSchema } from './common.schema';

/**
 * Roles of API users. `admin`: users, tokens, workers, everything. `user`: submits, sees and
 * cancels its own jobs and evaluations, reads its own checkpoints, sees the queue and the workers
 * (other users' jobs without their specs). `viewer`: reads everything, changes nothing.
 */
export const apiRoleSchema = z.enum(['admin', 'user', 'viewer']).meta({ id: 'ApiRole' });
export type ApiRole = z.infer<typeof apiRoleSchema>;

/** User names appear in Redis keys and records: the identifier alphabet, at most 64 characters. */
export const userNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, ".", "-" and "_" only, starting with a letter or digit');

/** Who a request comes from: the token's user and role (`GET /v1/whoami`). */
export const principalSchema = z
  .object({ user: userNameSchema, role: apiRoleSchema, tokenId: z.string(), expiresAt: timestampSchema.optional() })
  .strict()
  .meta({ id: 'Principal' });
export type Principal = z.infer<typeof principalSchema>;
