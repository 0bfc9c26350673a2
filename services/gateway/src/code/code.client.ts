import { Inject, Injectable } from '@nestjs/common';
import { CodeStat, CodeUpload, SCHEMA_VERSION, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The checkpoints service's store of uploaded project code, seen from the gateway. */
@Injectable()
export class CodeClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  stat(digest: string): Promise<CodeStat> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.codeStat, { v: SCHEMA_VERSION, digest });
  }

  upload(digest: string): Promise<CodeUpload> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.codeUpload, { v: SCHEMA_VERSION, digest });
  }

  commit(digest: string, uploadId: string): Promise<CodeStat> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.codeCommit, { v: SCHEMA_VERSION, digest, uploadId });
  }
}
