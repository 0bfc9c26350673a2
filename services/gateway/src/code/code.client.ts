import { Inject, Injectable } from '@nestjs/common';
import { CodeStat, codeStatSchema, CodeUpload, codeUploadSchema, RPC, SCHEMA_VERSION } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The checkpoints service's store of uploaded project code, seen from the gateway. */
@Injectable()
export class CodeClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  stat(digest: string): Promise<CodeStat> {
    return requestRpc(this.nats.nc, RPC.codeStat, { v: SCHEMA_VERSION, digest }, codeStatSchema);
  }

  upload(digest: string): Promise<CodeUpload> {
    return requestRpc(this.nats.nc, RPC.codeUpload, { v: SCHEMA_VERSION, digest }, codeUploadSchema);
  }

  commit(digest: string, uploadId: string): Promise<CodeStat> {
    return requestRpc(this.nats.nc, RPC.codeCommit, { v: SCHEMA_VERSION, digest, uploadId }, codeStatSchema);
  }
}
