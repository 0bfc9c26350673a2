import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_ROUTE } from '@hounsfield/runtime';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { problem } from '../http/problem';
import { AuthenticatedRequest, REQUIRED_PERMISSION, STREAM_ROUTE } from './auth.decorators';
import { AuthService } from './auth.service';
import { hasPermission, Permission } from './permissions';
import { RateLimiter } from './rate-limiter';
import { bearerOf } from './token-secret';

/**
 * Every route needs a token unless it is `@Public()`: 401 without a valid one, 403 when the role
 * lacks the route's permission, 429 past the token's rate. Event streams also take `?ticket=`.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly perToken: RateLimiter;
  /** Failed authentications per client address (tokens are 256-bit; this keeps floods off Redis). */
  private readonly failures: RateLimiter;

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.perToken = new RateLimiter(config.HOUNSFIELD_RATE_LIMIT_PER_SECOND, config.HOUNSFIELD_RATE_LIMIT_BURST);
    this.failures = new RateLimiter(1, 30);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    try {
      request.principal = await this.authenticate(request, this.reflector.getAllAndOverride<boolean>(STREAM_ROUTE, targets) ?? false);
    } catch (error) {
      // Failures are counted per client address; past the budget they are answered 429. A valid
      // token is never slowed by others' failures (many clients may share an address behind a proxy).
      const wait = this.failures.take(request.socket.remoteAddress ?? 'unknown');
      if (wait > 0) throw this.tooMany(wait, 'too many failed authentications from this address');
      throw error;
    }
    const wait = this.perToken.take(request.principal.tokenId);
    if (wait > 0) throw this.tooMany(wait, `token ${request.principal.tokenId} is over its rate limit`);
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(REQUIRED_PERMISSION, targets);
    if (permission !== undefined && !hasPermission(request.principal.role, permission)) {
      throw problem('forbidden', `role ${request.principal.role} may not ${permission.replace(':', ' ')}; ask an admin for a role that may`);
    }
    return true;
  }

  private async authenticate(request: AuthenticatedRequest, streamRoute: boolean) {
    const token = bearerOf(request.headers.authorization);
    if (token !== undefined) return this.auth.authenticate(token);
    const ticket = request.query?.ticket;
    if (streamRoute && typeof ticket === 'string' && ticket.length <= 512) return this.auth.redeemTicket(ticket, request.path);
    const detail = request.headers.authorization === undefined
      ? 'this route needs an API token: send Authorization: Bearer <token>'
      : 'the Authorization header is not "Bearer <token>"';
    throw problem('unauthenticated', detail);
  }

  private tooMany(waitSeconds: number, detail: string) {
    const retry = Math.max(1, Math.ceil(waitSeconds));
    return problem('too_many_requests', `${detail}; retry in ${retry} s`, { 'Retry-After': String(retry) });
  }
}
