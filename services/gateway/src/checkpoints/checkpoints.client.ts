import { Inject, Injectable } from '@nestjs/common';
import {
  AccessGrant,
  accessGrantSchema,
  CheckpointImport,
  checkpointImportSchema,
  checkpointImportUploadSchema,
  CheckpointPage,
  checkpointPageSchema,
  CheckpointRecord,
  checkpointRecordSchema,
  RPC,
  SCHEMA_VERSION,
} from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The checkpoints service's request/reply API, seen from the gateway. */
@Injectable()
export class CheckpointsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  list(jobId: string, limit: number, cursor?: string): Promise<CheckpointPage> {
    return requestRpc(this.nats.nc, RPC.checkpointsList, { v: SCHEMA_VERSION, jobId, limit, ...(cursor ? { cursor } : {}) }, checkpointPageSchema);
  }

  /** A checkpoint by id or `<job>:<ref>`; pinned, so a download that follows finds its bytes. */
  resolve(ref: string): Promise<CheckpointRecord> {
    return requestRpc(this.nats.nc, RPC.checkpointsResolve, { v: SCHEMA_VERSION, ref }, checkpointRecordSchema);
  }

  downloadPart(id: string, file: string, part: number): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, RPC.checkpointsDownloadPart, { v: SCHEMA_VERSION, id, file, part }, accessGrantSchema);
  }

  importUpload(fileName: string, size: number): Promise<{ importId: string; grant: AccessGrant }> {
    return requestRpc(this.nats.nc, RPC.checkpointsImportUpload, { v: SCHEMA_VERSION, fileName, size }, checkpointImportUploadSchema);
  }

  importStart(importId: string, format: string, step: number | undefined, owner: string): Promise<CheckpointImport> {
    return requestRpc(
      this.nats.nc,
      RPC.checkpointsImportStart,
      { v: SCHEMA_VERSION, importId, format, owner, ...(step !== undefined ? { step } : {}) },
      checkpointImportSchema,
    );
  }
}
