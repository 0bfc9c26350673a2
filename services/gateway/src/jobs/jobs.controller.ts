import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { cancelJobRequestSchema, identifierSchema, JobRecord, jobSpecSchema, jobStateSchema } from '@hounsfield/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { validateOr400 } from '../http/validation';
import { JobEventsStream } from './job-events.stream';
import { SchedulerClient } from './scheduler.client';

const listQuerySchema = z
  .object({
    state: jobStateSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly events: JobEventsStream,
  ) {}

  /** Validates the spec here (400 with field paths) so a bad request never reaches the scheduler. */
  @Post()
  @HttpCode(201)
  async submit(@Body() body: unknown): Promise<JobRecord> {
    validateOr400(jobSpecSchema, body, 'the job spec');
    return this.scheduler.submit(body);
  }

  @Get()
  async list(@Query() query: unknown): Promise<{ jobs: JobRecord[] }> {
    const { state, limit } = validateOr400(listQuerySchema, query, 'the query');
    return { jobs: await this.scheduler.list(state, limit) };
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<JobRecord> {
    return this.scheduler.get(validateOr400(identifierSchema, id, 'the job id'));
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id') id: string, @Body() body: unknown): Promise<JobRecord> {
    const request = validateOr400(cancelJobRequestSchema, { ...(typeof body === 'object' && body ? body : {}), id }, 'the cancellation');
    return this.scheduler.cancel(request.id, request.graceSeconds);
  }

  @Get(':id/events')
  async stream(@Param('id') id: string, @Headers('last-event-id') lastEventId: string | undefined, @Res() response: Response): Promise<void> {
    const jobId = validateOr400(identifierSchema, id, 'the job id');
    await this.scheduler.get(jobId);
    const after = lastEventId === undefined ? undefined : validateOr400(z.coerce.number().int().min(0), lastEventId, 'Last-Event-ID');
    await this.events.pipe(jobId, response, after);
  }
}
