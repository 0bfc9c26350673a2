/**
 * Why an object store operation failed. Callers map each code once: HTTP to problem+json
 * (NotFound → 404, InvalidKey/InvalidArgument → 400, InvalidConfig/Io → 500), consumers to
 * term (the request can never succeed) or nak (Io: the store may come back).
 */
export enum StorageErrorCode {
  /** The object (or the range asked for) does not exist. */
  NotFound = 'not_found',
  /** The key or prefix is not allowed: it escapes the root, holds forbidden characters, or clashes with another key. */
  InvalidKey = 'invalid_key',
  /** Another argument is out of bounds: a byte range, an expiry, a declared size. */
  InvalidArgument = 'invalid_argument',
  /** The store's configuration (or the environment it came from) is invalid. */
  InvalidConfig = 'invalid_config',
  /** The store failed: disk, network, server error, or a body stream that broke midway. */
  Io = 'io',
}

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** The key (or prefix) the operation was about, when there was one. */
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }

  static notFound(key: string): StorageError {
    return new StorageError(StorageErrorCode.NotFound, `object not found: ${key}`, key);
  }

  static invalidKey(key: string, why: string): StorageError {
    return new StorageError(StorageErrorCode.InvalidKey, `invalid key ${JSON.stringify(key)}: ${why}`, key);
  }

  static invalidArgument(message: string, key?: string): StorageError {
    return new StorageError(StorageErrorCode.InvalidArgument, message, key);
  }

  static invalidConfig(message: string): StorageError {
    return new StorageError(StorageErrorCode.InvalidConfig, message);
  }

  static io(message: string, key?: string, cause?: unknown): StorageError {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return new StorageError(StorageErrorCode.Io, `${message}${detail}`, key, { cause });
  }
}

/** True when `error` is a StorageError with the given code (handy in catch blocks and tests). */
export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
