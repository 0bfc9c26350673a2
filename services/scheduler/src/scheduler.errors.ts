import { RpcFailure } from '@hounsfield/messaging';

/** Scheduler failures with codes the gateway maps to HTTP statuses once. */
export enum SchedulerErrorCode {
  /** A request (a spec, a cursor) that can never succeed as sent. */
  InvalidSpec = 'invalid_request',
  NotFound = 'not_found',
  Unschedulable = 'unschedulable',
  Conflict = 'conflict',
}

export function schedulerError(
  code: SchedulerErrorCode,
  message: string,
  extra: { issues?: { path: string; message: string }[]; details?: Record<string, unknown> } = {},
): RpcFailure {
  return new RpcFailure({ code, message, ...extra });
}
