import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AccessGrant,
  CheckpointImport,
  CheckpointImportStartRequest,
  jobRecordSchema,
  JobSpecInput,
  RPC,
} from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { randomBytes } from 'node:crypto';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { toGrant } from '../queries/grants';
import { importKey, importPrefix } from '../registry/storage-keys';
import { ImportRepository } from './import.repository';

/** The module a worker runs to convert a legacy file (gpu-workers/hounsfield/checkpoints/import_job.py). */
export const IMPORT_MODULE = 'hounsfield.checkpoints.import_job';

/**
 * Legacy import: the caller stores a `.pth` / Lightning `.ckpt` through an upload grant, then
 * starts the import, which submits a CPU job to the scheduler. The job (on any worker, where
 * PyTorch is) reads the file with `map_location="cpu"` and `weights_only=True`, writes it in this
 * format with the SDK, and the agent uploads and commits it like any checkpoint: the import job's
 * committed checkpoint is the result (`<job>:latest`). No service ever unpickles user files.
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
    const stored = await this.imports.get(request.importId);
    if (stored === undefined) throw checkpointError(CheckpointErrorCode.NotFound, `import ${request.importId} is unknown or expired; upload the file again`);
    const stat = await this.store.stat(stored.key);
    if (stat === undefined) throw checkpointError(CheckpointErrorCode.Invalid, `import ${request.importId}: the file was not uploaded; store it through the grant first`);
    if (stat.size !== stored.size) {
      throw checkpointError(CheckpointErrorCode.Invalid, `import ${request.importId}: ${stat.size} bytes arrived, ${stored.size} were announced; upload the file again`);
    }
    // The job may wait in the queue; its read grant lasts as long as the file is kept.
    const remaining = Math.max(1, Math.floor((stored.expiresAt - Date.now()) / 1000));
    const source = toGrant(await this.store.presignGet(stored.key, remaining));
    const job = await requestRpc(this.nats.nc, RPC.submitJob, { spec: importJobSpec(stored.fileName, source, request) }, jobRecordSchema);
    this.logger.log(`import ${request.importId} (${stored.fileName}) runs as job ${job.id}`);
    return { importId: request.importId, jobId: job.id, fileName: stored.fileName, format: request.format };
  }

  /** Deletes source files of imports past their time. */
  async sweep(now = Date.now()): Promise<void> {
    for (const importId of await this.imports.expired(now)) {
      await this.store.deletePrefix(importPrefix(importId));
      await this.imports.forget(importId);
    }
  }
}

/** The CPU job that converts one file; it trains nothing, but every spec states a batch and LR. */
export function importJobSpec(fileName: string, source: AccessGrant, request: CheckpointImportStartRequest): JobSpecInput {
  const location = source.kind === 'url' ? source.url : source.path;
  return {
    name: `import ${fileName}`.slice(0, 128),
    kind: 'script',
    script: {
      module: IMPORT_MODULE,
      args: ['--source', location, '--name', fileName, '--format', request.format, ...(request.step !== undefined ? ['--step', String(request.step)] : [])],
    },
    resources: { gpus: 0, cpuProcesses: 1 },
    hyperparameters: { globalBatch: 1, baseLr: 1 },
    checkpoint: { keepLast: 1 },
  };
}
