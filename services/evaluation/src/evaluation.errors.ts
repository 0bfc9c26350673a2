import { RpcFailure } from '@hounsfield/messaging';

/** Evaluation failures, with the RPC codes the gateway maps to HTTP statuses once. */
export enum EvaluationErrorCode {
  /** The spec or a shard's request is wrong; the message (and issues) say where. */
  Invalid = 'invalid_request',
  NotFound = 'not_found',
  /** The request does not fit the evaluation's state (a plan for a finished evaluation...). */
  Conflict = 'conflict',
  /** The scheduler, the checkpoints service, Redis or the store did not answer; retry later. */
  Unavailable = 'unavailable',
}

export function evaluationError(
  code: EvaluationErrorCode,
  message: string,
  extra: { issues?: { path: string; message: string }[]; details?: Record<string, unknown> } = {},
): RpcFailure {
  return new RpcFailure({ code, message, ...extra });
}
