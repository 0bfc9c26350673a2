import { RpcFailure } from '@hounsfield/messaging';
import { isStorageError, StorageErrorCode } from '@hounsfield/storage';

/** Checkpoint failures, with the RPC codes the gateway maps to HTTP statuses once. */
export enum CheckpointErrorCode {
  /** The request, a manifest or an uploaded file is wrong; the message says which and how. */
  Invalid = 'invalid_request',
  NotFound = 'not_found',
  /** The upload is in another state (already committed, rejected, being verified). */
  Conflict = 'conflict',
  /** The object store or Redis failed; retrying later may work. */
  Unavailable = 'unavailable',
}

export function checkpointError(
  code: CheckpointErrorCode,
  message: string,
  details?: Record<string, unknown>,
): RpcFailure {
  return new RpcFailure({ code, message, ...(details ? { details } : {}) });
}

/** Store failures as RPC failures: a missing object is not_found, a broken store is unavailable. */
export function fromStorageError(error: unknown, what: string): unknown {
  if (!isStorageError(error)) return error;
  if (error.code === StorageErrorCode.NotFound) return checkpointError(CheckpointErrorCode.NotFound, `${what}: ${error.message}`);
  if (error.code === StorageErrorCode.Io) return checkpointError(CheckpointErrorCode.Unavailable, `${what}: ${error.message}`);
  return checkpointError(CheckpointErrorCode.Invalid, `${what}: ${error.message}`);
}
