import { ApiRole, Principal } from '@hounsfield/contracts';
import { problem } from '../http/problem';

/** What a route may require. Ownership (a user's own jobs) is checked in the route on top. */
export type Permission =
  | 'jobs:submit'
  | 'jobs:read'
  | 'jobs:cancel'
  | 'evaluations:create'
  | 'evaluations:read'
  | 'checkpoints:read'
  | 'checkpoints:import'
  | 'workers:read'
  | 'users:manage'
  | 'tokens:manage';

const ALL: readonly Permission[] = [
  'jobs:submit',
  'jobs:read',
  'jobs:cancel',
  'evaluations:create',
  'evaluations:read',
  'checkpoints:read',
  'checkpoints:import',
  'workers:read',
  'users:manage',
  'tokens:manage',
];

/**
 * The role table. Every role may also read itself (`GET /v1/whoami`) and create, list and revoke
 * its own tokens. `tokens:manage` is about other users' tokens.
 */
export const ROLE_PERMISSIONS: Record<ApiRole, readonly Permission[]> = {
  admin: ALL,
  user: ['jobs:submit', 'jobs:read', 'jobs:cancel', 'evaluations:create', 'evaluations:read', 'checkpoints:read', 'checkpoints:import', 'workers:read'],
  viewer: ['jobs:read', 'evaluations:read', 'checkpoints:read', 'workers:read'],
};

export function hasPermission(role: ApiRole, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/** Admins and viewers read everything; a user reads what it owns. */
export function mayRead(principal: Principal, owner: string | undefined): boolean {
  return principal.role !== 'user' || (owner !== undefined && owner === principal.user);
}

/**
 * Someone else's resource is answered 403 (not 404): job ids are not secret (the queue and the
 * workers show them), so hiding existence would protect nothing and only confuse.
 */
export function assertMayRead(principal: Principal, owner: string | undefined, what: string): void {
  if (!mayRead(principal, owner)) throw problem('forbidden', `${what} belongs to another user; you can read only your own`);
}

/** Admins change anything; a user changes what it owns (viewers never reach here: role check). */
export function assertMayChange(principal: Principal, owner: string | undefined, what: string): void {
  if (principal.role === 'admin') return;
  if (principal.role === 'user' && owner !== undefined && owner === principal.user) return;
  throw problem('forbidden', `${what} belongs to another user; you can change only your own`);
}
