import { WorkerHeartbeat } from '@hounsfield/contracts';

/** A worker as the scheduler holds it: its latest heartbeat plus when it arrived. */
export interface WorkerState {
  heartbeat: WorkerHeartbeat;
  lastSeenMs: number;
}

/** GPU index → `<jobId>:<attempt>` holding it. */
export type Leases = Map<number, string>;

export function leaseToken(jobId: string, attempt: number): string {
  return `${jobId}:${attempt}`;
}

export function parseLeaseToken(token: string): { jobId: string; attempt: number } {
  const at = token.lastIndexOf(':');
  return { jobId: token.slice(0, at), attempt: Number(token.slice(at + 1)) };
}
