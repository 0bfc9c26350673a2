import { z } from 'zod';
import { logLineSchema } from './log-line.schema';

/**
 * Server-sent events of `GET /v1/jobs/:id/logs?follow=true`: `event: line` (id `<attempt>:<seq>`,
 * usable as Last-Event-ID) for each line, then one `event: end` when the followed log is over.
 */
export const logLineEventSchema = logLineSchema
  .extend({ attempt: z.number().int().min(1) })
  .strict()
  .meta({ id: 'LogLineEvent' });
export type LogLineEvent = z.infer<typeof logLineEventSchema>;

export const logFollowEndSchema = z
  .object({
    attempt: z.number().int().min(1).nullable(),
    reason: z.string(),
  })
  .strict()
  .meta({ id: 'LogFollowEnd' });
export type LogFollowEnd = z.infer<typeof logFollowEndSchema>;
