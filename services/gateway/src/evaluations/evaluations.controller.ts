import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { evaluationCheckpoints, EvaluationPage, evaluationArtifactRequestSchema, evaluationSpecIssues, evaluationCaseIdSchema, EvaluationRecord, evaluationReportFormatSchema, evaluationSpecSchema, identifierSchema, pageQueryShape, Principal, userNameSchema } from '@hounsfield/contracts';
import { z } from 'zod';
import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import { assertMayRead } from '../auth/permissions';
import { problem, ProblemException, problemFor } from '../http/problem';
import { getThroughGrant } from '../checkpoints/grant-transfer';
import { validateOr400 } from '../http/validation';
import { SchedulerClient } from '../jobs/scheduler.client';
import { EvaluationsClient } from './evaluations.client';

const listQuerySchema = z.object({ owner: userNameSchema.optional(), ...pageQueryShape }).strict();

const caseFileParamsSchema = z.object({ caseId: evaluationCaseIdSchema, file: evaluationArtifactRequestSchema.shape.file }).strict();

const REPORT_TYPES = { markdown: 'text/markdown; charset=utf-8', yaml: 'application/yaml; charset=utf-8', csv: 'text/csv; charset=utf-8' } as const;

/**
 * Batch evaluations of a checkpoint (PCDiff: a diffusion + voxelization pair; vqgan3d, topo_unet, slice_interp:
 * one model) on a dataset split: submit one,
 * then follow its progress (cases done/total, ETA) until it shows the summary; the reports are
 * read through the gateway. A user evaluates checkpoints of its own jobs and reads its own evaluations.
 */
@Controller('v1/evaluations')
export class EvaluationsController {
  constructor(
    private readonly evaluations: EvaluationsClient,
    private readonly scheduler: SchedulerClient,
  ) {}

  /** Validated here (400 with field paths), then the service pins the checkpoints and submits the shards. */
  @Post()
  @HttpCode(201)
  @Requires('evaluations:create')
  async create(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<EvaluationRecord> {
    const parsed = evaluationSpecSchema.safeParse(body);
    if (!parsed.success) {
      const errors = evaluationSpecIssues(parsed.error);
      throw new ProblemException(problemFor('invalid_request', `the evaluation spec is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors }));
    }
    for (const [, model] of evaluationCheckpoints(parsed.data)) {
      const job = await this.scheduler.get(model.job);
      assertMayRead(principal, job.owner, `job ${job.id} (its checkpoints)`);
    }
    return this.evaluations.create(body, principal.user);
  }

  /** Newest first, a page at a time (`nextCursor`). A user lists its own evaluations. */
  @Get()
  @Requires('evaluations:read')
  list(@CurrentPrincipal() principal: Principal, @Query() query: unknown): Promise<EvaluationPage> {
    const { owner, limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    if (principal.role === 'user' && owner !== undefined && owner !== principal.user) {
      throw problem('forbidden', 'a user lists only its own evaluations; leave out owner');
    }
    return this.evaluations.list(principal.role === 'user' ? principal.user : owner, limit, cursor);
  }

  @Get(':id')
  @Requires('evaluations:read')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<EvaluationRecord> {
    return this.readable(principal, id);
  }

  /** One report of a succeeded evaluation (`markdown`, `yaml` or `csv`), streamed from the object store. */
  @Get(':id/reports/:format')
  @Requires('evaluations:read')
  async report(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('format') format: string, @Res() response: Response): Promise<void> {
    const which = validateOr400(evaluationReportFormatSchema, format, 'the report format');
    const record = await this.readable(principal, id);
    const body = await getThroughGrant(await this.evaluations.reportGrant(record.id, which));
    response.status(200).setHeader('Content-Type', REPORT_TYPES[which]);
    await pipeline(body, response);
  }

  /** A file a shard stored for a scored case: `preview.png` (every family), PCDiff's `implant.nrrd` and `points.npy`. */
  @Get(':id/cases/:case/:file')
  @Requires('evaluations:read')
  async caseFile(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Param('case') caseId: string,
    @Param('file') file: string,
    @Res() response: Response,
  ): Promise<void> {
    const which = validateOr400(caseFileParamsSchema, { caseId, file }, 'the case file');
    const record = await this.readable(principal, id);
    const body = await getThroughGrant(await this.evaluations.caseFileGrant(record.id, which.caseId, which.file));
    response.status(200).setHeader('Content-Type', which.file.endsWith('.png') ? 'image/png' : 'application/octet-stream');
    await pipeline(body, response);
  }

  private async readable(principal: Principal, id: string): Promise<EvaluationRecord> {
    const record = await this.evaluations.get(validateOr400(identifierSchema, id, 'the evaluation id'));
    assertMayRead(principal, record.owner, `evaluation ${record.id}`);
    return record;
  }
}
