import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Generated tokens: a recognisable prefix and 32 random bytes (256 bits), base64url. */
const TOKEN_PREFIX = 'hft_';
/** Tokens given by an operator (HOUNSFIELD_ADMIN_TOKEN) must be at least this long. */
export const MIN_TOKEN_LENGTH = 32;

export function newTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The only form in which a token is stored: its SHA-256 (a 256-bit random secret needs no slow hash). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A token's id follows from its digest, so a presented token is found with one lookup and then
 * compared in full; the id reveals nothing usable about the secret.
 */
export function tokenIdOf(digest: string): string {
  return `tok_${digest.slice(0, 16)}`;
}

/** Constant-time equality of two hex digests (different lengths are simply unequal). */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** The bearer token of an `Authorization` header, or undefined when there is none. */
export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i.exec(header);
  return match?.[1];
}
