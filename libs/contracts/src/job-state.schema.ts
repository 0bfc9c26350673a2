import { z } from 'zod';

/** queued → assigned → starting → running → succeeded | failed | cancelled; preempted and failed may return to queued. */
export const jobStateSchema = z.enum([
  'queued',
  'assigned',
  'starting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'preempted',
]);
export type JobState = z.infer<typeof jobStateSchema>;

export const TERMINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.includes(state);
}
