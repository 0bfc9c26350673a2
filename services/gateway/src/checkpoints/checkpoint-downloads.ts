import { Injectable, Logger } from '@nestjs/common';
import { CheckpointDownload, CheckpointRecord } from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { CheckpointsClient } from './checkpoints.client';
import { getThroughGrant } from './grant-transfer';

/** Downloads for users: grants per part, or a file streamed through the gateway part by part. */
@Injectable()
export class CheckpointDownloads {
  private readonly logger = new Logger(CheckpointDownloads.name);

  constructor(private readonly checkpoints: CheckpointsClient) {}

  async grants(checkpoint: CheckpointRecord): Promise<CheckpointDownload> {
    const files = [];
    for (const file of checkpoint.files) {
      const parts = [];
      for (let index = 0; index < file.parts.length; index += 1) {
        parts.push({ ...file.parts[index], grant: await this.checkpoints.downloadPart(checkpoint.id, file.name, index) });
      }
      files.push({ ...file, parts });
    }
    return { checkpoint, files };
  }

  /**
   * Streams one file. Headers go out before the first byte, so a failure midway can only cut the
   * response short; the client then sees fewer bytes than Content-Length (and a sha256 mismatch).
   */
  async stream(checkpoint: CheckpointRecord, name: string, response: Response): Promise<void> {
    const file = checkpoint.files.find((f) => f.name === name);
    if (file === undefined) {
      throw new RpcFailure({ code: 'not_found', message: `checkpoint ${checkpoint.id} has no file ${name}; it has ${checkpoint.files.map((f) => f.name).join(', ')}` });
    }
    const first = await this.checkpoints.downloadPart(checkpoint.id, file.name, 0);
    response.status(200);
    response.setHeader('Content-Type', 'application/octet-stream');
    response.setHeader('Content-Length', String(file.size));
    response.setHeader('Content-Disposition', `attachment; filename="${file.name}"`);
    response.setHeader('X-Checkpoint-Id', checkpoint.id);
    response.setHeader('X-Checkpoint-Sha256', file.sha256);
    try {
      for (let index = 0; index < file.parts.length; index += 1) {
        const grant = index === 0 ? first : await this.checkpoints.downloadPart(checkpoint.id, file.name, index);
        await pipeline(await getThroughGrant(grant), response, { end: false });
      }
      response.end();
    } catch (error) {
      this.logger.warn(`download of ${checkpoint.id}/${name} broke off: ${String(error)}`);
      response.destroy(error instanceof Error ? error : undefined);
    }
  }
}
