import { Injectable } from '@nestjs/common';
import { ApiRole, ApiToken, ApiUser, CreatedApiToken, CreateTokenRequest, Principal, StreamTicket } from '@hounsfield/contracts';
import { randomBytes } from 'node:crypto';
import { problem } from '../http/problem';
import { AuthRepository, StoredToken } from './auth.repository';
import { hasPermission } from './permissions';
import { newTokenSecret, sameDigest, tokenDigest, tokenIdOf } from './token-secret';

/** Stream tickets live this long: enough to open (and re-open) an EventSource right away. */
export const TICKET_SECONDS = 60;

const UNAUTHENTICATED = 'send a valid API token: Authorization: Bearer <token> (see POST /v1/tokens)';

/** Users, tokens and tickets: creation, checks on every request, revocation. */
@Injectable()
export class AuthService {
  constructor(private readonly repository: AuthRepository) {}

  /** The principal of a bearer token, or a 401 that never says which part was wrong. */
  async authenticate(token: string, now = Date.now()): Promise<Principal> {
    const digest = tokenDigest(token);
    const stored = await this.repository.getToken(tokenIdOf(digest));
    if (stored === undefined || !sameDigest(stored.digest, digest)) throw problem('unauthenticated', `unknown token; ${UNAUTHENTICATED}`);
    return this.principalOf(stored, now);
  }

  private async principalOf(stored: StoredToken, now: number): Promise<Principal> {
    if (stored.revokedAt !== undefined) throw problem('unauthenticated', `token ${stored.id} was revoked; ${UNAUTHENTICATED}`);
    if (stored.expiresAt !== undefined && Date.parse(stored.expiresAt) <= now) {
      throw problem('unauthenticated', `token ${stored.id} expired at ${stored.expiresAt}; ${UNAUTHENTICATED}`);
    }
    const user = await this.repository.getUser(stored.user);
    if (user === undefined || user.disabled) throw problem('unauthenticated', `user ${stored.user} is disabled; ${UNAUTHENTICATED}`);
    return { user: user.name, role: user.role, tokenId: stored.id, ...(stored.expiresAt ? { expiresAt: stored.expiresAt } : {}) };
  }

  async createUser(name: string, role: ApiRole): Promise<ApiUser> {
    const user: ApiUser = { name, role, createdAt: new Date().toISOString(), disabled: false };
    if (!(await this.repository.createUser(user))) throw problem('conflict', `user ${name} exists; change its role with PATCH /v1/users/${name}`);
    return user;
  }

  listUsers(): Promise<ApiUser[]> {
    return this.repository.listUsers();
  }

  async updateUser(actor: Principal, name: string, update: { role?: ApiRole; disabled?: boolean }): Promise<ApiUser> {
    const user = await this.repository.getUser(name);
    if (user === undefined) throw problem('not_found', `no user ${name}`);
    if (name === actor.user && (update.disabled || (update.role !== undefined && update.role !== 'admin'))) {
      throw problem('conflict', 'an admin cannot disable or demote itself; ask another admin');
    }
    const changed: ApiUser = { ...user, ...(update.role ? { role: update.role } : {}), ...(update.disabled !== undefined ? { disabled: update.disabled } : {}) };
    await this.repository.saveUser(changed);
    return changed;
  }

  /** A new token for the caller, or (admins) for another user; the secret is in this answer only. */
  async createToken(actor: Principal, request: CreateTokenRequest, now = Date.now()): Promise<CreatedApiToken> {
    const owner = request.user ?? actor.user;
    if (owner !== actor.user && !hasPermission(actor.role, 'tokens:manage')) {
      throw problem('forbidden', 'only admins create tokens for other users; leave out "user"');
    }
    const user = await this.repository.getUser(owner);
    if (user === undefined) throw problem('not_found', `no user ${owner}; create it first with POST /v1/users`);
    const expiresAt = request.expiresInSeconds === undefined ? undefined : new Date(now + request.expiresInSeconds * 1000).toISOString();
    return this.storeToken(newTokenSecret(), owner, request.name, now, expiresAt);
  }

  /** Registers a token whose secret is already chosen (the first admin's); false when it exists. */
  async registerToken(secret: string, user: string, name: string, now = Date.now()): Promise<boolean> {
    const existing = await this.repository.getToken(tokenIdOf(tokenDigest(secret)));
    if (existing !== undefined) return false;
    await this.storeToken(secret, user, name, now, undefined);
    return true;
  }

  private async storeToken(secret: string, user: string, name: string, now: number, expiresAt: string | undefined): Promise<CreatedApiToken> {
    const digest = tokenDigest(secret);
    const token: StoredToken = {
      id: tokenIdOf(digest),
      user,
      name,
      createdAt: new Date(now).toISOString(),
      ...(expiresAt ? { expiresAt } : {}),
      digest,
    };
    if (!(await this.repository.createToken(token))) throw problem('conflict', 'a token with this secret exists');
    const { digest: _digest, ...visible } = token;
    return { ...visible, token: secret };
  }

  /** The caller's tokens, or (admins) everyone's or one user's. */
  async listTokens(actor: Principal, user?: string): Promise<ApiToken[]> {
    const all = hasPermission(actor.role, 'tokens:manage');
    if (user !== undefined && user !== actor.user && !all) throw problem('forbidden', 'only admins list other users\' tokens');
    const wanted = user ?? (all ? undefined : actor.user);
    return (await this.repository.listTokens()).filter((token) => wanted === undefined || token.user === wanted);
  }

  /** Revokes at once: the next request with the token is refused. Revoking twice is harmless. */
  async revokeToken(actor: Principal, id: string, now = Date.now()): Promise<ApiToken> {
    const stored = await this.repository.getToken(id);
    if (stored === undefined || (stored.user !== actor.user && !hasPermission(actor.role, 'tokens:manage'))) {
      throw problem('not_found', `no token ${id} of yours`);
    }
    const revoked: StoredToken = stored.revokedAt ? stored : { ...stored, revokedAt: new Date(now).toISOString() };
    if (!stored.revokedAt) await this.repository.saveToken(revoked);
    const { digest: _digest, ...visible } = revoked;
    return visible;
  }

  async userExists(name: string): Promise<boolean> {
    return (await this.repository.getUser(name)) !== undefined;
  }

  /** True for the one gateway replica that should create the first admin. */
  claimBootstrap(): Promise<boolean> {
    return this.repository.claimBootstrap();
  }

  async adminExists(): Promise<boolean> {
    return (await this.repository.listUsers()).some((user) => user.role === 'admin' && !user.disabled);
  }

  /** A ticket for one stream path, acting as the caller's token until it expires. */
  async issueTicket(actor: Principal, path: string, now = Date.now()): Promise<StreamTicket> {
    const ticket = `hfs_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now + TICKET_SECONDS * 1000).toISOString();
    await this.repository.saveTicket(tokenDigest(ticket), { tokenId: actor.tokenId, path, expiresAt }, TICKET_SECONDS);
    return { ticket, path, expiresAt };
  }

  /** The principal a ticket acts for, if it is valid for this path and its token still is. */
  async redeemTicket(ticket: string, path: string, now = Date.now()): Promise<Principal> {
    const stored = await this.repository.getTicket(tokenDigest(ticket));
    if (stored === undefined || Date.parse(stored.expiresAt) <= now) throw problem('unauthenticated', `unknown or expired stream ticket; ${UNAUTHENTICATED}`);
    if (stored.path !== path) throw problem('unauthenticated', `this stream ticket is for ${stored.path}, not ${path}`);
    const token = await this.repository.getToken(stored.tokenId);
    if (token === undefined) throw problem('unauthenticated', `the ticket's token is gone; ${UNAUTHENTICATED}`);
    return this.principalOf(token, now);
  }
}
