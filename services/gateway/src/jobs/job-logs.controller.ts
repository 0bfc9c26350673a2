import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { formatLogLine, identifierSchema, LogLine, LogSource, Principal } from '@hounsfield/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { CurrentPrincipal, Requires, StreamRoute } from '../auth/auth.decorators';
import { assertMayRead } from '../auth/permissions';
import { ProblemException, problemFor } from '../http/problem';
import { validateOr400 } from '../http/validation';
import { JobLogsStream, writeChunk } from './job-logs.stream';
import { LogsClient } from './logs.client';
import { SchedulerClient } from './scheduler.client';

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * `?attempt=2&rank=0&tail=100&follow=true`: the attempt (the latest with a log when absent), one
 * rank's lines (`launcher` for the launcher's), the last N lines, and following new lines.
 */
export const logsQuerySchema = z
  .object({
    attempt: wholeNumber(1, 1_000_000).optional(),
    rank: z
      .union([z.literal('launcher'), wholeNumber(0, 1_000_000)], { error: 'a global rank (0, 1, …) or "launcher"' })
      .optional(),
    tail: wholeNumber(0, 1_000_000).optional(),
    follow: z
      .enum(['true', 'false', '1', '0'], 'true or false')
      .transform((v) => v === 'true' || v === '1')
      .default(false),
  })
  .strict();

/** `Last-Event-ID` of a followed log: `<attempt>:<seq>` of the last line received. */
const lastEventIdSchema = z
  .string()
  .regex(/^\d+:\d+$/, '<attempt>:<seq>, as the line events carry it')
  .transform((value) => {
    const [attempt, seq] = value.split(':').map(Number);
    return { attempt, seq };
  })
  .refine((id) => id.attempt >= 1, { message: 'attempts count from 1' });

/**
 * An attempt's output, all ranks' lines prefixed with their source (`[rank 0] …`, `[launcher] …`):
 * as text (every stored line unless `tail` says otherwise; an attempt keeps at most
 * HOUNSFIELD_LOG_MAX_MIB on the worker), or followed as server-sent events (`follow=true`).
 */
@Controller('v1/jobs')
export class JobLogsController {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly store: LogsClient,
    private readonly follower: JobLogsStream,
  ) {}

  /** A user reads its own jobs' logs; following takes a stream ticket (`?ticket=`) where a header cannot be sent. */
  @Get(':id/logs')
  @Requires('jobs:read')
  @StreamRoute()
  async logs(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() response: Response,
  ): Promise<void> {
    const jobId = validateOr400(identifierSchema, id, 'the job id');
    const { ticket: _ticket, ...options } = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
    const { attempt, rank, tail, follow } = validateOr400(logsQuerySchema, options, 'the query');
    const resume = follow && lastEventId !== undefined ? validateOr400(lastEventIdSchema, lastEventId, 'Last-Event-ID') : undefined;
    const job = await this.scheduler.get(jobId);
    assertMayRead(principal, job.owner, `job ${job.id}`);
    if (attempt !== undefined && attempt > job.attempt) {
      throw new ProblemException(problemFor('not_found', `job ${jobId} has no attempt ${attempt}: its latest is attempt ${job.attempt}`));
    }
    if (follow) {
      await this.follower.follow(job, { attempt, rank, tail, resume }, response);
      return;
    }
    await this.text(jobId, { attempt, rank, tail }, response);
  }

  /** Pages of stored lines, streamed as they arrive. */
  private async text(jobId: string, query: { attempt?: number; rank?: LogSource; tail?: number }, response: Response): Promise<void> {
    const pages = this.store.pages({ jobId, ...query });
    const first = (await pages.next()).value;
    response.status(200).type('text/plain; charset=utf-8');
    if (first?.attempt != null) response.setHeader('X-Log-Attempt', String(first.attempt));
    response.setHeader('X-Log-Complete', String(first?.complete ?? false));
    try {
      if (first) await writeChunk(response, asText(first.lines));
      for await (const page of pages) await writeChunk(response, asText(page.lines));
      response.end();
    } catch (error) {
      // Mid-body: a truncated response must not look complete.
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function asText(lines: LogLine[]): string {
  return lines.map((line) => `${formatLogLine(line)}\n`).join('');
}
