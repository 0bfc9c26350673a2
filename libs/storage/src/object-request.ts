import type { ByteRange } from './object-store';
import { StorageError } from './storage.errors';

/** SigV4 presigned URLs live at most 7 days; the fs driver accepts the same bounds so callers do not care which driver runs. */
export const MAX_GRANT_SECONDS = 7 * 24 * 3600;

/** Checks an expiry passed to presignPut/presignGet and returns when the grant ends. */
export function grantExpiry(key: string, expirySeconds: number, now = Date.now()): Date {
  if (!Number.isInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_GRANT_SECONDS) {
    throw StorageError.invalidArgument(
      `expiry must be a whole number of seconds from 1 to ${MAX_GRANT_SECONDS}, got ${expirySeconds}`,
      key,
    );
  }
  return new Date(now + expirySeconds * 1000);
}

/** Checks a byte range's shape; whether it fits the object is checked against the object. */
export function assertByteRange(key: string, range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw StorageError.invalidArgument(`range offset must be a non-negative integer, got ${offset}`, key);
  }
  // A zero length would mean "to the end" to the minio client; make the caller say that by omitting it.
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 1)) {
    throw StorageError.invalidArgument(`range length must be a positive integer when given, got ${length}`, key);
  }
}

/** The error for a range that starts at or past the end of a non-empty object (HTTP 416 on S3). */
export function rangeNotSatisfiable(key: string, range: ByteRange, size: number): StorageError {
  return StorageError.invalidArgument(`range starting at byte ${range.offset} is past the end of ${key} (${size} bytes)`, key);
}

/** Checks a size declared in put options. */
export function assertDeclaredSize(key: string, size: number | undefined): void {
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw StorageError.invalidArgument(`declared size must be a non-negative integer, got ${size}`, key);
  }
}
