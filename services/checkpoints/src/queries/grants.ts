import { AccessGrant } from '@hounsfield/contracts';
import type { AccessGrant as StoreGrant } from '@hounsfield/storage';

/** A store grant as it crosses the wire (an ISO timestamp instead of a Date). */
export function toGrant(grant: StoreGrant): AccessGrant {
  return grant.kind === 'url'
    ? { kind: 'url', url: grant.url, method: grant.method, expiresAt: grant.expiresAt.toISOString() }
    : { kind: 'path', path: grant.path };
}
