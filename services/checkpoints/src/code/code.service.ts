import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccessGrant, CodeSourceRequest, CodeStat, CodeUpload, isTrainingSpec, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { createHash, randomBytes } from 'node:crypto';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { toGrant } from '../queries/grants';

/** `code/<hex>.tar`: one object per distinct project tree, never rewritten. */
export function codeKey(digest: string): string {
  return `code/${digest.slice('sha256:'.length)}.tar`;
}

export const CODE_STAGING_PREFIX = 'code/staging/';
const stagingKey = (uploadId: string) => `${CODE_STAGING_PREFIX}${uploadId}.tar`;

/**
 * Uploaded project code, content-addressed. The gateway asks whether a digest is stored (a second
 * submission of the same tree uploads nothing), stages new bytes through a grant, and commits:
 * this service hashes what arrived and files it under its digest only when they match, so an
 * object under `code/<sha256>.tar` always holds exactly those bytes. Workers read it through a
 * grant given only for a job placed on them whose spec names that digest.
 */
@Injectable()
export class CodeService {
  private readonly logger = new Logger(CodeService.name);

  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  async stat(digest: string): Promise<CodeStat> {
    const stat = await this.store.stat(codeKey(digest));
    return stat === undefined ? { digest, stored: false } : { digest, stored: true, size: stat.size };
  }

  async upload(digest: string): Promise<CodeUpload> {
    if ((await this.store.stat(codeKey(digest))) !== undefined) return { stored: true };
    const uploadId = `cu-${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
    try {
      return { stored: false, uploadId, grant: toGrant(await this.store.presignPut(stagingKey(uploadId), this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS)) };
    } catch (error) {
      throw fromStorageError(error, `upload grant for code ${digest}`);
    }
  }

  /** Hashes the staged archive; files it under its digest when they match, and drops the staging copy either way. */
  async commit(digest: string, uploadId: string): Promise<CodeStat> {
    const staged = stagingKey(uploadId);
    try {
      const hash = createHash('sha256');
      for await (const chunk of await this.store.get(staged)) hash.update(chunk as Buffer);
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest) {
        throw checkpointError(CheckpointErrorCode.Invalid, `the uploaded archive has ${actual}, not ${digest}; pack and upload it again`);
      }
      if ((await this.store.stat(codeKey(digest))) === undefined) {
        const size = (await this.store.stat(staged))?.size;
        await this.store.put(codeKey(digest), await this.store.get(staged), size === undefined ? undefined : { size });
        this.logger.log(`stored code ${digest} (${size ?? '?'} bytes)`);
      }
    } catch (error) {
      throw fromStorageError(error, `code upload ${uploadId}`);
    } finally {
      await this.store.delete(staged).catch(() => undefined);
    }
    return this.stat(digest);
  }

  /** A read grant for the code of a job placed on `workerId` whose spec names `digest`. */
  async source(request: CodeSourceRequest, workerId: string): Promise<AccessGrant> {
    const job = await requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id: request.jobId });
    const code = isTrainingSpec(job.spec) ? job.spec.code?.digest : undefined;
    // The job's placement, or the worker building its environment (a GPU job's environment phase).
    const builder = job.state === 'queued' && job.environment?.state === 'building' ? job.environment.workerId : undefined;
    if ((job.workerId !== workerId && builder !== workerId) || code !== request.digest) {
      this.logger.warn(`worker ${workerId} asked for code ${request.digest} of job ${request.jobId}, which is on ${job.workerId ?? 'no worker'} with ${code ?? 'no code'}`);
      throw checkpointError(CheckpointErrorCode.NotFound, `job ${request.jobId} on worker ${workerId} runs no code ${request.digest}`);
    }
    if ((await this.store.stat(codeKey(request.digest))) === undefined) {
      throw checkpointError(CheckpointErrorCode.NotFound, `code ${request.digest} is not stored; submit the job again with --code`);
    }
    try {
      return toGrant(await this.store.presignGet(codeKey(request.digest), this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS));
    } catch (error) {
      throw fromStorageError(error, `read grant for code ${request.digest}`);
    }
  }

  /** Staged uploads the gateway never committed (a broken connection), once their grant has run out. */
  async sweep(now = Date.now()): Promise<void> {
    const limit = now - this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS * 1000;
    for await (const entry of this.store.list(CODE_STAGING_PREFIX)) {
      if (entry.lastModified.getTime() < limit) await this.store.delete(entry.key);
    }
  }
}
