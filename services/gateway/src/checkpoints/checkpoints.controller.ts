import { Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  checkpointFileNameSchema,
  checkpointIdSchema,
  CheckpointImport,
  CheckpointRecord,
  identifierSchema,
  qualifiedCheckpointRefSchema,
} from '@hounsfield/contracts';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { validateOr400 } from '../http/validation';
import { CheckpointsClient } from './checkpoints.client';
import { CheckpointDownloads, DownloadableCheckpoint } from './checkpoint-downloads';
import { putThroughGrant } from './grant-transfer';

const listQuerySchema = z
  .object({
    job: identifierSchema,
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** `ck-…`, or `<job>:latest`, `<job>:best:<metric>:<min|max>`, `<job>:<step>`. */
const refSchema = z.union([checkpointIdSchema, qualifiedCheckpointRefSchema]);

const importQuerySchema = z
  .object({
    fileName: z.string().min(1).max(256),
    format: z.enum(['auto', 'pth', 'lightning']).default('auto'),
    step: z.coerce.number().int().min(0).optional(),
  })
  .strict();

/**
 * Committed checkpoints: list a job's, get one by id or reference, download it (grants per part,
 * or a file streamed through the gateway), and import legacy `.pth` / Lightning `.ckpt` files.
 */
@Controller('v1/checkpoints')
export class CheckpointsController {
  constructor(
    private readonly checkpoints: CheckpointsClient,
    private readonly downloads: CheckpointDownloads,
  ) {}

  /** A job's committed checkpoints, latest first. */
  @Get()
  async list(@Query() query: unknown): Promise<{ checkpoints: CheckpointRecord[] }> {
    const { job, limit } = validateOr400(listQuerySchema, query, 'the query');
    return { checkpoints: await this.checkpoints.list(job, limit) };
  }

  /**
   * Stores the request body (`Content-Type: application/octet-stream`, `Content-Length` required)
   * and starts its conversion, a CPU job on a worker. 202: follow `jobId`; its committed
   * checkpoint (`GET /v1/checkpoints?job=<jobId>`) is the imported one.
   */
  @Post('import')
  @HttpCode(202)
  async import(@Req() request: Request, @Query() query: unknown, @Headers('content-length') length: string | undefined): Promise<CheckpointImport> {
    const { fileName, format, step } = validateOr400(importQuerySchema, query, 'the query');
    const size = validateOr400(z.coerce.number().int().min(1), length, 'the Content-Length header (send the file with its length)');
    const { importId, grant } = await this.checkpoints.importUpload(fileName, size);
    await putThroughGrant(grant, request, size);
    return this.checkpoints.importStart(importId, format, step);
  }

  @Get(':ref')
  get(@Param('ref') ref: string): Promise<CheckpointRecord> {
    return this.checkpoints.resolve(validateOr400(refSchema, ref, 'the checkpoint reference'));
  }

  /** Read grants for every part of every file (presigned URLs, or paths on the shared filesystem). */
  @Get(':ref/download')
  download(@Param('ref') ref: string): Promise<DownloadableCheckpoint> {
    return this.downloads.grants(validateOr400(refSchema, ref, 'the checkpoint reference'));
  }

  /** One file, reassembled from its parts and streamed (`curl -O` friendly); its sha256 is in a header. */
  @Get(':ref/files/:name')
  async file(@Param('ref') ref: string, @Param('name') name: string, @Res() response: Response): Promise<void> {
    const checked = validateOr400(refSchema, ref, 'the checkpoint reference');
    await this.downloads.stream(checked, validateOr400(checkpointFileNameSchema, name, 'the file name'), response);
  }
}
