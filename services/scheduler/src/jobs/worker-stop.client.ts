import { Inject, Injectable, Logger } from '@nestjs/common';
import { WORKER_SERVED_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestWorker } from '@hounsfield/messaging';

/** Asks a worker to stop one attempt (SIGTERM, the grace period, then SIGKILL on its side). */
@Injectable()
export class WorkerStopClient {
  private readonly logger = new Logger(WorkerStopClient.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}
  /** Best effort: a worker that is gone is handled by the dead-worker path instead. */
  async requestWorkerStop(workerId: string, jobId: string, attempt: number, graceSeconds: number): Promise<void> {
    try {
      const reply = await requestWorker(this.nats.nc, workerId, WORKER_SERVED_RPCS.cancel, { jobId, attempt, graceSeconds });
      if (!reply.ok) this.logger.warn(`worker ${workerId} refused to stop ${jobId}#${attempt}: ${reply.error}`);
    } catch (error) {
      this.logger.warn(`could not reach worker ${workerId} to stop ${jobId}#${attempt}: ${String(error)}`);
    }
  }
}
