import { z } from 'zod';
import { alertEventSchema } from './alert-event.schema';
import { environmentEventSchema } from './code.schema';
import { jobNoticeEventSchema } from './job-notice-event.schema';
import { jobStateEventSchema } from './job-state-event.schema';
import { progressEventSchema } from './progress-event.schema';
import { statusEventSchema } from './status-event.schema';
import { workerHeartbeatSchema } from './worker-heartbeat.schema';

/** Anything on the EVENTS stream, told apart by `type`. */
export const platformEventSchema = z.discriminatedUnion('type', [
  progressEventSchema,
  statusEventSchema,
  workerHeartbeatSchema,
  jobStateEventSchema,
  alertEventSchema,
  jobNoticeEventSchema,
  environmentEventSchema,
]);
export type PlatformEvent = z.infer<typeof platformEventSchema>;

/** What a job's live stream (SSE) carries. */
export const jobEventSchema = z.discriminatedUnion('type', [
  progressEventSchema,
  statusEventSchema,
  jobStateEventSchema,
  alertEventSchema,
  jobNoticeEventSchema,
  environmentEventSchema,
]);
export type JobEvent = z.infer<typeof jobEventSchema>;
