import {
  AccessGrant,
  accessGrantSchema,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  CheckpointFile,
  CheckpointMeta,
  CheckpointRecord,
  checkpointRecordSchema,
  CheckpointRetention,
  CheckpointUploadSession,
  checkpointUploadSessionSchema,
  SCHEMA_VERSION,
  SERVICE_RPCS,
  WORKER_RPC,
  WorkerRpcCall,
  workerRpcSubject,
} from '@hounsfield/contracts';
import { requestRpc, RpcFailure } from '@hounsfield/messaging';
import type { NatsConnection } from '@nats-io/nats-core';
import { createHash, randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** What a test does to one part before (or instead of) storing it. */
export type Tamper = (file: string, part: number, bytes: Buffer) => Buffer | 'skip';

export interface UploadOptions {
  jobId: string;
  attempt?: number;
  step: number;
  /** Files besides meta.json, which is written from `metrics`. */
  files: Record<string, Buffer>;
  metrics?: Record<string, number>;
  retention?: CheckpointRetention;
  tamper?: Tamper;
  /** Report each stored part (the worker's pipelined verification); off = commit verifies everything. */
  reportParts?: boolean;
}

/**
 * The worker's side of the upload protocol, as a test drives it (the Python agent does the same
 * streaming from disk): begin, per part a grant + a write, optionally "part uploaded", commit.
 */
export class CheckpointTestClient {
  constructor(
    private readonly nc: NatsConnection,
    /** Uploads go on this worker's subjects, as an agent's do. */
    private readonly workerId = 'test-worker',
  ) {}

  private worker(call: WorkerRpcCall): string {
    return workerRpcSubject(this.workerId, call);
  }

  async upload(
    options: UploadOptions,
  ): Promise<{ session: CheckpointUploadSession; partErrors: RpcFailure[]; commit: () => Promise<CheckpointRecord> }> {
    const attempt = options.attempt ?? 1;
    const files = { ...options.files, 'meta.json': metaJson(options.jobId, attempt, options.step, options.metrics ?? {}, Object.keys(options.files)) };
    const session = await requestRpc(
      this.nc,
      this.worker(WORKER_RPC.checkpointsUploadBegin),
      { v: SCHEMA_VERSION, jobId: options.jobId, attempt, step: options.step, files: Object.entries(files).map(([name, b]) => ({ name, size: b.length })) },
      checkpointUploadSessionSchema,
    );
    const manifest: CheckpointFile[] = [];
    const partErrors: RpcFailure[] = [];
    for (const [name, bytes] of Object.entries(files)) {
      const parts = [];
      for (let part = 0; part * session.partSize < bytes.length || part === 0; part += 1) {
        const chunk = bytes.subarray(part * session.partSize, (part + 1) * session.partSize);
        parts.push({ size: chunk.length });
        const stored = options.tamper ? options.tamper(name, part, chunk) : chunk;
        if (stored === 'skip') continue;
        const grant = await requestRpc(this.nc, this.worker(WORKER_RPC.checkpointsUploadPart), { v: SCHEMA_VERSION, id: session.uploadId, file: name, part }, accessGrantSchema);
        await writeGrant(grant, stored);
        if (options.reportParts ?? true) {
          await requestRpc(
            this.nc,
            this.worker(WORKER_RPC.checkpointsPartUploaded),
            { v: SCHEMA_VERSION, uploadId: session.uploadId, file: name, part, size: chunk.length },
            z.unknown(),
          ).catch((error: RpcFailure) => partErrors.push(error)); // the commit decides all the same
        }
      }
      manifest.push({ name, size: bytes.length, sha256: sha256(bytes), parts });
    }
    const commit = () =>
      requestRpc(
        this.nc,
        this.worker(WORKER_RPC.checkpointsCommit),
        { v: SCHEMA_VERSION, uploadId: session.uploadId, manifest: { files: manifest }, retention: options.retention ?? { keepLast: 100 } },
        checkpointRecordSchema,
        60_000,
      );
    return { session, partErrors, commit };
  }

  async commit(options: UploadOptions): Promise<CheckpointRecord> {
    return (await this.upload(options)).commit();
  }

  async list(jobId: string): Promise<CheckpointRecord[]> {
    return (await requestRpc(this.nc, SERVICE_RPCS.checkpointsList, { v: SCHEMA_VERSION, jobId, limit: 1000 })).checkpoints;
  }

  resolve(ref: string, jobId?: string, pinSeconds?: number): Promise<CheckpointRecord> {
    return requestRpc(
      this.nc,
      SERVICE_RPCS.checkpointsResolve,
      { v: SCHEMA_VERSION, ref, ...(jobId ? { jobId } : {}), ...(pinSeconds ? { pinSeconds } : {}) },
    );
  }

  /** Reads a committed file back through download grants, part by part. */
  async download(record: CheckpointRecord, name: string): Promise<Buffer> {
    const file = record.files.find((f) => f.name === name);
    if (!file) throw new Error(`no ${name} in ${record.id}`);
    const parts: Buffer[] = [];
    for (let part = 0; part < file.parts.length; part += 1) {
      const grant = await requestRpc(this.nc, SERVICE_RPCS.checkpointsDownloadPart, { v: SCHEMA_VERSION, id: record.id, file: name, part });
      parts.push(await readGrant(grant));
    }
    return Buffer.concat(parts);
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function metaJson(jobId: string, attempt: number, step: number, metrics: Record<string, number>, files: string[]): Buffer {
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    jobId,
    attempt,
    step,
    worldSize: 2,
    metrics,
    stateFiles: Object.fromEntries(files.filter((f) => f.endsWith('.safetensors') || f.endsWith('.pt')).map((f) => [f.split('.')[0], f])),
    createdAt: new Date().toISOString(),
  };
  return Buffer.from(JSON.stringify(meta));
}

export async function writeGrant(grant: AccessGrant, bytes: Buffer): Promise<void> {
  if (grant.kind === 'url') {
    const response = await fetch(grant.url, { method: 'PUT', body: bytes });
    if (!response.ok) throw new Error(`PUT failed: ${response.status} ${await response.text()}`);
    return;
  }
  const temp = join(dirname(grant.path), `.${randomUUID()}.hf-tmp`);
  await writeFile(temp, bytes);
  await rename(temp, grant.path);
}

async function readGrant(grant: AccessGrant): Promise<Buffer> {
  if (grant.kind === 'path') return readFile(grant.path);
  const response = await fetch(grant.url);
  if (!response.ok) throw new Error(`GET failed: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
