import { Inject, Injectable } from '@nestjs/common';
import { LogReadReply, LogReadRequest, SCHEMA_VERSION, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** Stored attempt logs (the checkpoints service's logs RPC), seen from the gateway. */
@Injectable()
export class LogsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  read(request: Omit<LogReadRequest, 'v'>): Promise<LogReadReply> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.logsRead, { v: SCHEMA_VERSION, ...request }, 30_000);
  }

  /** Every page of a read, in order, as `read` would return them one after the other. */
  async *pages(request: Omit<LogReadRequest, 'v'>): AsyncGenerator<LogReadReply> {
    const first = await this.read(request);
    yield first;
    let next = first.nextAfterSeq;
    while (next !== null && first.attempt !== null) {
      const page = await this.read({ jobId: request.jobId, attempt: first.attempt, rank: request.rank, afterSeq: next, untilSeq: first.lastSeq });
      yield page;
      next = page.nextAfterSeq;
    }
  }
}
