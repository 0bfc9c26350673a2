import { Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  CheckpointDownload,
  checkpointFileNameSchema,
  checkpointIdSchema,
  CheckpointImport,
  CheckpointRecord,
  identifierSchema,
  pageQueryShape,
  Principal,
  qualifiedCheckpointRefSchema,
} from '@hounsfield/contracts';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import { assertMayRead } from '../auth/permissions';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { problem } from '../http/problem';
import { validateOr400 } from '../http/validation';
import { SchedulerClient } from '../jobs/scheduler.client';
import { CheckpointsClient } from './checkpoints.client';
import { CheckpointDownloads } from './checkpoint-downloads';
import { putThroughGrant } from './grant-transfer';

const listQuerySchema = z.object({ job: identifierSchema, ...pageQueryShape }).strict();

/** `ck-…`, or `<job>:latest`, `<job>:best:<metric>:<min|max>`, `<job>:<step>`. */
const refSchema = z.union([checkpointIdSchema, qualifiedCheckpointRefSchema]);

const importQuerySchema = z
  .object({
    fileName: z.string().min(1).max(256).regex(/^[^/\\\p{Cc}]+$/u, 'a file name without slashes or control characters'),
    format: z.enum(['auto', 'pth', 'lightning']).default('auto'),
    step: z.coerce.number().int().min(0).optional(),
  })
  .strict();

/**
 * Committed checkpoints: list a job's, get one by id or reference, download it (grants per part,
 * or a file streamed through the gateway), and import legacy `.pth` / Lightning `.ckpt` files.
 * A checkpoint belongs to its job's owner; an import's to the user who sent the file.
 */
@Controller('v1/checkpoints')
export class CheckpointsController {
  constructor(
    private readonly checkpoints: CheckpointsClient,
    private readonly downloads: CheckpointDownloads,
    private readonly scheduler: SchedulerClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** A job's committed checkpoints, latest first, a page at a time (`nextCursor`). */
  @Get()
  @Requires('checkpoints:read')
  async list(@CurrentPrincipal() principal: Principal, @Query() query: unknown): Promise<{ checkpoints: CheckpointRecord[]; nextCursor?: string }> {
    const { job, limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    const record = await this.scheduler.get(job);
    assertMayRead(principal, record.owner, `job ${job}`);
    return this.checkpoints.list(job, limit, cursor);
  }

  /**
   * Stores the request body (`Content-Type: application/octet-stream`, `Content-Length` required)
   * and starts its conversion, a CPU job on a worker. 202: follow `jobId`; its committed
   * checkpoint (`GET /v1/checkpoints?job=<jobId>`) is the imported one.
   */
  @Post('import')
  @HttpCode(202)
  @Requires('checkpoints:import')
  async import(
    @CurrentPrincipal() principal: Principal,
    @Req() request: Request,
    @Query() query: unknown,
    @Headers('content-length') length: string | undefined,
  ): Promise<CheckpointImport> {
    const { fileName, format, step } = validateOr400(importQuerySchema, query, 'the query');
    const size = validateOr400(z.coerce.number().int().min(1), length, 'the Content-Length header (send the file with its length)');
    if (size > this.config.HOUNSFIELD_IMPORT_MAX_BYTES) {
      throw problem('payload_too_large', `the file has ${size} bytes; imports take at most ${this.config.HOUNSFIELD_IMPORT_MAX_BYTES} (HOUNSFIELD_IMPORT_MAX_BYTES)`);
    }
    const { importId, grant } = await this.checkpoints.importUpload(fileName, size);
    await putThroughGrant(grant, request, size);
    return this.checkpoints.importStart(importId, format, step, principal.user);
  }

  @Get(':ref')
  @Requires('checkpoints:read')
  get(@CurrentPrincipal() principal: Principal, @Param('ref') ref: string): Promise<CheckpointRecord> {
    return this.readable(principal, ref);
  }

  /** Read grants for every part of every file (presigned URLs, or paths on the shared filesystem). */
  @Get(':ref/download')
  @Requires('checkpoints:read')
  async download(@CurrentPrincipal() principal: Principal, @Param('ref') ref: string): Promise<CheckpointDownload> {
    return this.downloads.grants(await this.readable(principal, ref));
  }

  /** One file, reassembled from its parts and streamed (`curl -O` friendly); its sha256 is in a header. */
  @Get(':ref/files/:name')
  @Requires('checkpoints:read')
  async file(@CurrentPrincipal() principal: Principal, @Param('ref') ref: string, @Param('name') name: string, @Res() response: Response): Promise<void> {
    const file = validateOr400(checkpointFileNameSchema, name, 'the file name');
    await this.downloads.stream(await this.readable(principal, ref), file, response);
  }

  private async readable(principal: Principal, ref: string): Promise<CheckpointRecord> {
    const checkpoint = await this.checkpoints.resolve(validateOr400(refSchema, ref, 'the checkpoint reference'));
    assertMayRead(principal, checkpoint.owner, `checkpoint ${checkpoint.id}`);
    return checkpoint;
  }
}
