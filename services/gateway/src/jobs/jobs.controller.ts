import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  cancelJobRequestSchema,
  identifierSchema,
  JobMetrics,
  JobPage,
  JobRecord,
  jobStateSchema,
  METRIC_NAME_MAX,
  pageQueryShape,
  Principal,
  trainingJobSpecSchema,
  userNameSchema,
} from '@hounsfield/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { CodeClient } from '../code/code.client';
import { CurrentPrincipal, Requires, StreamRoute } from '../auth/auth.decorators';
import { assertMayChange, assertMayRead } from '../auth/permissions';
import { problem } from '../http/problem';
import { validateOr400 } from '../http/validation';
import { JobEventsStream } from './job-events.stream';
import { MetricsClient } from './metrics.client';
import { RecipeConfigValidator } from './recipe-config.validator';
import { SchedulerClient } from './scheduler.client';

const listQuerySchema = z
  .object({
    state: jobStateSchema.optional(),
    /** One user's jobs (admins and viewers; a user always sees its own). */
    owner: userNameSchema.optional(),
    ...pageQueryShape,
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

/** Jobs: a user submits, reads and cancels its own; viewers read all; admins everything. */
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly events: JobEventsStream,
    private readonly metrics: MetricsClient,
    private readonly recipeConfigs: RecipeConfigValidator,
    private readonly code: CodeClient,
  ) {}

  /**
   * Validates the spec here (400 with field paths) so a bad request never reaches the scheduler:
   * the spec's contract, then its `config` against the schema its kind's recipe exports. Users
   * submit trainings only (internal task kinds are the platform's own); the caller owns the job.
   */
  @Post()
  @HttpCode(201)
  @Requires('jobs:submit')
  async submit(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<JobRecord> {
    const spec = validateOr400(trainingJobSpecSchema, body, 'the job spec');
    this.recipeConfigs.check(spec.kind, spec.config);
    if (spec.code && !(await this.code.stat(spec.code.digest)).stored) {
      throw problem('unschedulable', `code ${spec.code.digest} is not stored: upload it first (hounsfield submit --code DIR does both)`);
    }
    return this.scheduler.submit(body, principal.user);
  }

  /** Newest first, a page at a time (`nextCursor`). A user lists its own jobs. */
  @Get()
  @Requires('jobs:read')
  list(@CurrentPrincipal() principal: Principal, @Query() query: unknown): Promise<JobPage> {
    const { state, owner, limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    if (principal.role === 'user' && owner !== undefined && owner !== principal.user) {
      throw problem('forbidden', 'a user lists only its own jobs; leave out owner');
    }
    return this.scheduler.list({ state, owner: principal.role === 'user' ? principal.user : owner, limit, cursor });
  }

  /** The scheduler's record with the metrics service's training-health alerts of the job. */
  @Get(':id')
  @Requires('jobs:read')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<JobRecord> {
    const job = await this.readable(principal, id);
    const alerts = await this.metrics.alerts(job.id);
    return alerts ? { ...job, alerts } : job;
  }

  /** Stored, downsampled metric series of the job, for curves without Prometheus. */
  @Get(':id/metrics')
  @Requires('jobs:read')
  async jobMetrics(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: unknown): Promise<JobMetrics> {
    const jobId = validateOr400(identifierSchema, id, 'the job id');
    const { name, from, to } = validateOr400(metricsQuerySchema, query, 'the query');
    await this.readable(principal, jobId);
    return this.metrics.series({ jobId, names: name, fromStep: from, toStep: to });
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @Requires('jobs:cancel')
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Body() body: unknown): Promise<JobRecord> {
    const request = validateOr400(cancelJobRequestSchema, { ...(typeof body === 'object' && body ? body : {}), id }, 'the cancellation');
    const job = await this.scheduler.get(request.id);
    assertMayChange(principal, job.owner, `job ${job.id}`);
    return this.scheduler.cancel(request.id, request.graceSeconds);
  }

  /** Server-sent events; a browser's EventSource authenticates with `?ticket=` (POST /v1/stream-tickets). */
  @Get(':id/events')
  @Requires('jobs:read')
  @StreamRoute()
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() response: Response,
  ): Promise<void> {
    const job = await this.readable(principal, id);
    const after = lastEventId === undefined ? undefined : validateOr400(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER), lastEventId, 'Last-Event-ID');
    await this.events.pipe(job.id, response, after);
  }

  private async readable(principal: Principal, id: string): Promise<JobRecord> {
    const job = await this.scheduler.get(validateOr400(identifierSchema, id, 'the job id'));
    assertMayRead(principal, job.owner, `job ${job.id}`);
    return job;
  }
}
