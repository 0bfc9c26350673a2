import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccessGrant, CheckpointImport, CheckpointImportSourceRequest, CheckpointImportStartRequest, JobSpecInput, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { randomBytes } from 'node:crypto';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { toGrant } from '../queries/grants';
import { importKey, importPrefix } from '../registry/storage-keys';
import { ImportRepository, StoredImport } from './import.repository';

/**
 * Legacy import: the caller stores a `.pth` / Lightning `.ckpt` through an upload grant, then
 * starts the import, which submits a `checkpoint_import` task to the scheduler. The worker that
 * runs it (any worker: PyTorch is there) asks for a read grant of the file over its own subjects,
 * reads it with `map_location="cpu"` and `weights_only=True`, writes it in this format with the
 * SDK, and the agent uploads and commits it like any checkpoint: the task's committed checkpoint
 * is the result (`<job>:latest`). No service ever unpickles user files, and no grant is stored.
 */
@Injectable()
export class ImportService {
  private readonly logger = new Logger(ImportService.name);

  constructor(
    private readonly imports: ImportRepository,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  async upload(fileName: string, size: number): Promise<{ importId: string; grant: AccessGrant }> {
    const importId = `imp-${randomBytes(10).toString('hex')}`;
    const key = importKey(importId, fileName);
    const expiresAt = Date.now() + this.config.HOUNSFIELD_CHECKPOINT_IMPORT_TTL_SECONDS * 1000;
    await this.imports.create({ importId, fileName, size, key, expiresAt });
    try {
      return { importId, grant: toGrant(await this.store.presignPut(key, this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS)) };
    } catch (error) {
      throw fromStorageError(error, `upload grant for ${fileName}`);
    }
  }

  async start(request: CheckpointImportStartRequest): Promise<CheckpointImport> {
    const stored = await this.required(request.importId);
    const stat = await this.store.stat(stored.key);
    if (stat === undefined) throw checkpointError(CheckpointErrorCode.Invalid, `import ${request.importId}: the file was not uploaded; store it through the grant first`);
    if (stat.size !== stored.size) {
      throw checkpointError(CheckpointErrorCode.Invalid, `import ${request.importId}: ${stat.size} bytes arrived, ${stored.size} were announced; upload the file again`);
    }
    const spec = importJobSpec(stored.fileName, request);
    const job = await requestRpc(this.nats.nc, SERVICE_RPCS.submitJob, { spec, ...(request.owner ? { owner: request.owner } : {}) });
    await this.imports.save({ ...stored, jobId: job.id });
    this.logger.log(`import ${request.importId} (${stored.fileName}) runs as job ${job.id}`);
    return { importId: request.importId, jobId: job.id, fileName: stored.fileName, format: request.format };
  }

  /**
   * A read grant of the import's file for the task converting it: only its own job, and only on
   * the worker the scheduler placed it on (the subject says which worker asks).
   */
  async source(request: CheckpointImportSourceRequest, workerId: string): Promise<AccessGrant> {
    const stored = await this.required(request.importId);
    if (stored.jobId !== request.jobId) throw checkpointError(CheckpointErrorCode.NotFound, `import ${request.importId} is not converted by job ${request.jobId}`);
    const job = await requestRpc(this.nats.nc, SERVICE_RPCS.getJob, { id: request.jobId });
    if (job.workerId !== workerId) {
      this.logger.warn(`worker ${workerId} asked for the file of import ${request.importId}, whose job ${request.jobId} is on ${job.workerId ?? 'no worker'}`);
      throw checkpointError(CheckpointErrorCode.NotFound, `job ${request.jobId} does not run on worker ${workerId}`);
    }
    // The task may have waited in the queue; its grant lasts as long as the file is kept.
    const remaining = Math.max(1, Math.floor((stored.expiresAt - Date.now()) / 1000));
    try {
      return toGrant(await this.store.presignGet(stored.key, remaining));
    } catch (error) {
      throw fromStorageError(error, `read grant for import ${request.importId}`);
    }
  }

  private async required(importId: string): Promise<StoredImport> {
    const stored = await this.imports.get(importId);
    if (stored === undefined) throw checkpointError(CheckpointErrorCode.NotFound, `import ${importId} is unknown or expired; upload the file again`);
    return stored;
  }

  /** Deletes source files of imports past their time. */
  async sweep(now = Date.now()): Promise<void> {
    for (const importId of await this.imports.expired(now)) {
      await this.store.deletePrefix(importPrefix(importId));
      await this.imports.forget(importId);
    }
  }
}

/** The `checkpoint_import` task converting one file: references only, no grant, no address. */
export function importJobSpec(fileName: string, request: CheckpointImportStartRequest): JobSpecInput {
  return {
    name: `import ${fileName}`.slice(0, 128),
    kind: 'checkpoint_import',
    resources: { gpus: 0, cpuProcesses: 1 },
    checkpoint: { keepLast: 1 },
    checkpointImport: { importId: request.importId, fileName, format: request.format, ...(request.step !== undefined ? { step: request.step } : {}) },
  };
}
