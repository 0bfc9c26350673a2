import { Controller, Get, Headers, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { codeDigestSchema, CodeStat } from '@hounsfield/contracts';
import type { Request } from 'express';
import { z } from 'zod';
import { Requires } from '../auth/auth.decorators';
import { putThroughGrant } from '../checkpoints/grant-transfer';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { problem } from '../http/problem';
import { validateOr400 } from '../http/validation';
import { CodeClient } from './code.client';

/**
 * Project code for `script` jobs (`hounsfield submit --code DIR`), stored by its sha256: the CLI
 * asks first and uploads only what is not stored, so re-submitting the same tree sends nothing.
 * The bytes are checked against the digest before they are filed under it.
 */
@Controller('v1/code')
export class CodeController {
  constructor(
    private readonly code: CodeClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** Whether an archive is stored (`stored`), with its size. */
  @Get(':digest')
  @Requires('jobs:submit')
  stat(@Param('digest') digest: string): Promise<CodeStat> {
    return this.code.stat(validateOr400(codeDigestSchema, digest, 'the code digest'));
  }

  /** The body is the tar archive (`Content-Length` required); stored under its digest once the bytes match it. */
  @Post(':digest')
  @HttpCode(201)
  @Requires('jobs:submit')
  async upload(@Param('digest') digest: string, @Req() request: Request, @Headers('content-length') length: string | undefined): Promise<CodeStat> {
    const checked = validateOr400(codeDigestSchema, digest, 'the code digest');
    const size = validateOr400(z.coerce.number().int().min(1), length, 'the Content-Length header (send the archive with its length)');
    if (size > this.config.HOUNSFIELD_CODE_MAX_BYTES) {
      throw problem('payload_too_large', `the archive has ${size} bytes; code uploads take at most ${this.config.HOUNSFIELD_CODE_MAX_BYTES} (HOUNSFIELD_CODE_MAX_BYTES); leave data out with a .hounsfieldignore`);
    }
    const upload = await this.code.upload(checked);
    if (upload.stored || !upload.uploadId || !upload.grant) {
      request.resume();
      return this.code.stat(checked);
    }
    await putThroughGrant(upload.grant, request, size);
    return this.code.commit(checked, upload.uploadId);
  }
}
