import { Inject, Injectable } from '@nestjs/common';
import { ApiToken, apiTokenSchema, ApiUser, apiUserSchema } from '@hounsfield/contracts';
import { REDIS } from '@hounsfield/runtime';
import Redis from 'ioredis';
import { z } from 'zod';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';

/** A token as stored: its public fields and the digest of its secret. */
export const storedTokenSchema = apiTokenSchema.extend({ digest: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export type StoredToken = z.infer<typeof storedTokenSchema>;

export const storedTicketSchema = z.object({ tokenId: z.string(), path: z.string(), expiresAt: z.string() }).strict();
export type StoredTicket = z.infer<typeof storedTicketSchema>;

/**
 * Users, tokens and stream tickets in Redis (`<prefix>auth:…`). Nothing is cached in the gateway:
 * every request reads its token and user, so a revocation or a role change applies at once.
 */
@Injectable()
export class AuthRepository {
  private readonly p: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.p = `${config.HOUNSFIELD_REDIS_PREFIX}auth:`;
  }

  private userKey = (name: string) => `${this.p}user:${name}`;
  private usersKey = () => `${this.p}users`;
  private tokenKey = (id: string) => `${this.p}token:${id}`;
  private tokensKey = () => `${this.p}tokens`;
  private ticketKey = (digest: string) => `${this.p}ticket:${digest}`;
  private bootstrapKey = () => `${this.p}bootstrap`;

  async getUser(name: string): Promise<ApiUser | undefined> {
    const raw = await this.redis.get(this.userKey(name));
    return raw === null ? undefined : apiUserSchema.parse(JSON.parse(raw));
  }

  /** Stores a new user; false when the name is taken. */
  async createUser(user: ApiUser): Promise<boolean> {
    const [[, set]] = ((await this.redis.multi().set(this.userKey(user.name), JSON.stringify(user), 'NX').sadd(this.usersKey(), user.name).exec()) ?? [[null, null]]) as [
      [unknown, string | null],
    ];
    return set === 'OK';
  }

  async saveUser(user: ApiUser): Promise<void> {
    await this.redis.set(this.userKey(user.name), JSON.stringify(user), 'XX');
  }

  async listUsers(): Promise<ApiUser[]> {
    const names = (await this.redis.smembers(this.usersKey())).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map(this.userKey));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => apiUserSchema.parse(JSON.parse(raw)));
  }

  async getToken(id: string): Promise<StoredToken | undefined> {
    const raw = await this.redis.get(this.tokenKey(id));
    return raw === null ? undefined : storedTokenSchema.parse(JSON.parse(raw));
  }

  /** Stores a new token; false when one with this id exists (the same secret given twice). */
  async createToken(token: StoredToken): Promise<boolean> {
    const [[, set]] = ((await this.redis
      .multi()
      .set(this.tokenKey(token.id), JSON.stringify(token), 'NX')
      .zadd(this.tokensKey(), Date.parse(token.createdAt), token.id)
      .exec()) ?? [[null, null]]) as [[unknown, string | null]];
    return set === 'OK';
  }

  async saveToken(token: StoredToken): Promise<void> {
    await this.redis.set(this.tokenKey(token.id), JSON.stringify(token), 'XX');
  }

  /** Every token, oldest first (an admin's view; a lab has tens or hundreds). */
  async listTokens(): Promise<ApiToken[]> {
    const ids = await this.redis.zrange(this.tokensKey(), 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map(this.tokenKey));
    return raws
      .filter((raw): raw is string => raw !== null)
      .map((raw) => {
        const { digest: _digest, ...token } = storedTokenSchema.parse(JSON.parse(raw));
        return token;
      });
  }

  async saveTicket(digest: string, ticket: StoredTicket, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.ticketKey(digest), JSON.stringify(ticket), 'EX', ttlSeconds);
  }

  async getTicket(digest: string): Promise<StoredTicket | undefined> {
    const raw = await this.redis.get(this.ticketKey(digest));
    return raw === null ? undefined : storedTicketSchema.parse(JSON.parse(raw));
  }

  /** One gateway replica creates the first admin; the others see the claim and leave it. */
  async claimBootstrap(): Promise<boolean> {
    return (await this.redis.set(this.bootstrapKey(), new Date().toISOString(), 'NX')) === 'OK';
  }
}
