import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { cancelJobRequestSchema, identifierSchema, JobMetrics, JobRecord, jobSpecSchema, jobStateSchema, METRIC_NAME_MAX } from '@hounsfield/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { validateOr400 } from '../http/validation';
import { JobEventsStream } from './job-events.stream';
import { MetricsClient } from './metrics.client';
import { RecipeConfigValidator } from './recipe-config.validator';
import { SchedulerClient } from './scheduler.client';

const listQuerySchema = z
  .object({
    state: jobStateSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** `?name=loss,lr&from=100&to=2000`: series names (comma-separated, all when absent) and an inclusive step range. */
const metricsQuerySchema = z
  .object({
    name: z
      .string()
      .transform((value) => value.split(',').map((n) => n.trim()).filter(Boolean))
      .pipe(z.array(z.string().min(1).max(METRIC_NAME_MAX)).max(64))
      .optional(),
    from: z.coerce.number().int().min(0).optional(),
    to: z.coerce.number().int().min(0).optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { message: 'from must not be greater than to', path: ['from'] });

@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly events: JobEventsStream,
    private readonly metrics: MetricsClient,
    private readonly recipeConfigs: RecipeConfigValidator,
  ) {}

  /**
   * Validates the spec here (400 with field paths) so a bad request never reaches the scheduler:
   * the spec's contract, then its `config` against the schema its kind's recipe exports.
   */
  @Post()
  @HttpCode(201)
  async submit(@Body() body: unknown): Promise<JobRecord> {
    const spec = validateOr400(jobSpecSchema, body, 'the job spec');
    this.recipeConfigs.check(spec.kind, spec.config);
    return this.scheduler.submit(body);
  }

  @Get()
  async list(@Query() query: unknown): Promise<{ jobs: JobRecord[] }> {
    const { state, limit } = validateOr400(listQuerySchema, query, 'the query');
    return { jobs: await this.scheduler.list(state, limit) };
  }

  /** The scheduler's record with the metrics service's training-health alerts of the job. */
  @Get(':id')
  async get(@Param('id') id: string): Promise<JobRecord> {
    const jobId = validateOr400(identifierSchema, id, 'the job id');
    const [job, alerts] = await Promise.all([this.scheduler.get(jobId), this.metrics.alerts(jobId)]);
    return alerts ? { ...job, alerts } : job;
  }

  /** Stored, downsampled metric series of the job, for curves without Prometheus. */
  @Get(':id/metrics')
  async jobMetrics(@Param('id') id: string, @Query() query: unknown): Promise<JobMetrics> {
    const jobId = validateOr400(identifierSchema, id, 'the job id');
    const { name, from, to } = validateOr400(metricsQuerySchema, query, 'the query');
    await this.scheduler.get(jobId);
    return this.metrics.series({ jobId, names: name, fromStep: from, toStep: to });
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
