import { Inject, Injectable } from '@nestjs/common';
import {
  AccessGrant,
  CheckpointImport,
  CheckpointImportStartRequest,
  CheckpointPage,
  CheckpointRecord,
  SCHEMA_VERSION,
  SERVICE_RPCS,
} from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The checkpoints service's request/reply API, seen from the gateway. */
@Injectable()
export class CheckpointsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  list(jobId: string, limit: number, cursor?: string): Promise<CheckpointPage> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsList, { v: SCHEMA_VERSION, jobId, limit, ...(cursor ? { cursor } : {}) });
  }

  /** A checkpoint by id or `<job>:<ref>`; pinned, so a download that follows finds its bytes. */
  resolve(ref: string): Promise<CheckpointRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsResolve, { v: SCHEMA_VERSION, ref });
  }

  downloadPart(id: string, file: string, part: number): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsDownloadPart, { v: SCHEMA_VERSION, id, file, part });
  }

  importUpload(fileName: string, size: number): Promise<{ importId: string; grant: AccessGrant }> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsImportUpload, { v: SCHEMA_VERSION, fileName, size });
  }

  importStart(importId: string, format: CheckpointImportStartRequest['format'], step: number | undefined, owner: string): Promise<CheckpointImport> {
    return requestRpc(
      this.nats.nc,
      SERVICE_RPCS.checkpointsImportStart,
      { v: SCHEMA_VERSION, importId, format, owner, ...(step !== undefined ? { step } : {}) },
    );
  }
}
