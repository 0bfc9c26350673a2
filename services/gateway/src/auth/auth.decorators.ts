import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Principal } from '@hounsfield/contracts';
import type { Request } from 'express';
import { Permission } from './permissions';

export { Public } from '@hounsfield/runtime';

export const REQUIRED_PERMISSION = 'hounsfield:permission';
export const STREAM_ROUTE = 'hounsfield:stream';

/** The permission a route needs (see ROLE_PERMISSIONS); without it, any valid token will do. */
export const Requires = (permission: Permission) => SetMetadata(REQUIRED_PERMISSION, permission);

/** A server-sent event stream: also accepts a stream ticket (`?ticket=`) bound to its path. */
export const StreamRoute = () => SetMetadata(STREAM_ROUTE, true);

export type AuthenticatedRequest = Request & { principal?: Principal };

/** The authenticated caller (set by the AuthGuard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (principal === undefined) throw new Error('CurrentPrincipal on a route the AuthGuard did not authenticate');
  return principal;
});
