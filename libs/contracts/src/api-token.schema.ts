import { z } from 'zod';
import { userNameSchema } from './api-principal.schema';
import { timestampSchema } from './common.schema';
import { pageCursorSchema } from './page.schema';

/** Token ids are public (they name a token in lists and revocations); the secret never is. */
export const apiTokenIdSchema = z.string().regex(/^tok_[0-9a-f]{16}$/, 'a token id such as tok_0123456789abcdef');

/** A token as lists show it: never the secret, which is stored only as a digest. */
export const apiTokenSchema = z
  .object({
    id: apiTokenIdSchema,
    user: userNameSchema,
    name: z.string(),
    createdAt: timestampSchema,
    /** Absent: the token does not expire. */
    expiresAt: timestampSchema.optional(),
    revokedAt: timestampSchema.optional(),
  })
  .strict()
  .meta({ id: 'ApiToken' });
export type ApiToken = z.infer<typeof apiTokenSchema>;

export const tokenPageSchema = z.object({ tokens: z.array(apiTokenSchema), nextCursor: pageCursorSchema.optional() }).strict().meta({ id: 'TokenPage' });

/** `POST /v1/tokens`: a token for yourself, or (admin) for `user`. */
export const createTokenRequestSchema = z
  .object({
    /** What the token is for ("laptop", "ci"); shown in lists. */
    name: z.string().min(1).max(128).regex(/^\P{Cc}*$/u, 'no control characters'),
    /** Admins only: the user the token acts as (default: yourself). */
    user: userNameSchema.optional(),
    /** Lifetime in seconds (at most a year); without it the token lasts until revoked. */
    expiresInSeconds: z.number().int().min(1).max(366 * 24 * 3600).optional(),
  })
  .strict()
  .meta({ id: 'CreateTokenRequest' });
export type CreateTokenRequest = z.infer<typeof createTokenRequestSchema>;

/** The answer to a token creation: the only time the secret is shown. */
export const createdApiTokenSchema = apiTokenSchema
  .extend({ token: z.string().describe('the bearer token; shown once, store it now') })
  .strict()
  .meta({ id: 'CreatedApiToken' });
export type CreatedApiToken = z.infer<typeof createdApiTokenSchema>;

/**
 * `POST /v1/stream-tickets`: a short-lived ticket for one server-sent event stream, for clients
 * that cannot send an Authorization header (the browser's EventSource): `GET <path>?ticket=…`.
 */
export const streamTicketRequestSchema = z
  .object({ path: z.string().min(1).max(512).regex(/^\/v1\/[A-Za-z0-9_\-/.:]+$/, 'the path of an event stream, such as /v1/jobs/<id>/events') })
  .strict()
  .meta({ id: 'StreamTicketRequest' });

export const streamTicketSchema = z
  .object({ ticket: z.string(), path: z.string(), expiresAt: timestampSchema })
  .strict()
  .meta({ id: 'StreamTicket' });
export type StreamTicket = z.infer<typeof streamTicketSchema>;
