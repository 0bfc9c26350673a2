import { StorageError } from './storage.errors';

/** S3's limit on a key's length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Most filesystems' limit on one path component, in bytes; applied to every driver so keys stay portable. */
export const MAX_SEGMENT_BYTES = 255;
/**
 * Names ending in this are the fs driver's in-progress writes. Keys may not use it, so a
 * half-written temporary file can never be mistaken for (or overwrite) an object.
 */
export const RESERVED_SUFFIX = '.hf-tmp';

// Control characters break S3's XML listings and terminal output; NUL truncates paths in C APIs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Checks a key against the rules every driver shares, and throws InvalidKey naming the rule.
 * The rules make `join(root, key)` stay inside `root` on the fs driver: no absolute keys, no
 * `.`/`..` segments, no backslashes (a separator on Windows shares), no NUL.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw StorageError.invalidKey(String(key), 'a key cannot be empty');
  assertAllowedCharacters(key, key);
  if (key.startsWith('/')) throw StorageError.invalidKey(key, "absolute keys are not allowed (drop the leading '/')");
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw StorageError.invalidKey(key, `longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  for (const segment of key.split('/')) assertValidSegment(key, segment);
}

/**
 * Checks a listing/deletion prefix: `''`, or a key's beginning. Every complete segment follows the
 * key rules; the last, partial one (after the final `/`) only has to use allowed characters.
 */
export function assertValidPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw StorageError.invalidKey(String(prefix), 'a prefix must be a string');
  if (prefix === '') return;
  assertAllowedCharacters(prefix, prefix);
  if (prefix.startsWith('/')) throw StorageError.invalidKey(prefix, "absolute prefixes are not allowed (drop the leading '/')");
  if (Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES) {
    throw StorageError.invalidKey(prefix, `longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  const segments = prefix.split('/');
  for (const segment of segments.slice(0, -1)) assertValidSegment(prefix, segment);
}

/** True when a file or directory name found on disk could be a key segment (listings skip the rest). */
export function isValidSegment(name: string): boolean {
  try {
    assertAllowedCharacters(name, name);
    assertValidSegment(name, name);
    return true;
  } catch {
    return false;
  }
}

function assertAllowedCharacters(key: string, text: string): void {
  if (text.includes('\\')) throw StorageError.invalidKey(key, "backslashes are not allowed (use '/')");
  if (CONTROL_CHARS.test(text)) throw StorageError.invalidKey(key, 'NUL and control characters are not allowed');
}

function assertValidSegment(key: string, segment: string): void {
  if (segment === '') throw StorageError.invalidKey(key, "empty segment (leading, trailing or doubled '/')");
  if (segment === '.' || segment === '..') {
    throw StorageError.invalidKey(key, `'${segment}' segments are not allowed (they would escape the store root)`);
  }
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
    throw StorageError.invalidKey(key, `segment longer than ${MAX_SEGMENT_BYTES} UTF-8 bytes`);
  }
  if (segment.endsWith(RESERVED_SUFFIX)) {
    throw StorageError.invalidKey(key, `segments ending in '${RESERVED_SUFFIX}' are reserved for in-progress writes`);
  }
}

/** Orders keys as S3 lists them: by their UTF-8 bytes (differs from JS string order for astral characters). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
