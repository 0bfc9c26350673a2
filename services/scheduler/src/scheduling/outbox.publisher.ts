import { Inject, Injectable, Logger } from '@nestjs/common';
import { SUBJECT_PREFIX } from '@hounsfield/contracts';
import { encodeJson, ensureWorkerConsumer, NatsClient } from '@hounsfield/messaging';
import { JobRepository, OutboxEntry } from '../jobs/job.repository';

/**
 * Sends what state changes left in the outbox, then removes each entry. Publishing twice is
 * harmless (JetStream de-duplicates by message id), losing one is not: entries leave only after
 * the server acknowledged them.
 */
@Injectable()
export class OutboxPublisher {
  private readonly logger = new Logger(OutboxPublisher.name);
  private readonly consumersReady = new Set<string>();
  private flushing?: Promise<void>;

  constructor(
    private readonly jobs: JobRepository,
    @Inject(NatsClient) private readonly nats: NatsClient,
  ) {}

  /** Concurrent callers share one flush. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async ensureWorkerConsumer(workerId: string): Promise<void> {
    if (this.consumersReady.has(workerId)) return;
    await ensureWorkerConsumer(this.nats.jsm, workerId);
    this.consumersReady.add(workerId);
  }

  private async drain(): Promise<void> {
    for (const entry of await this.jobs.pendingOutbox()) {
      try {
        await this.publish(entry);
        await this.jobs.removeOutbox(entry.msgId);
      } catch (error) {
        this.logger.warn(`outbox entry ${entry.msgId} not sent yet: ${String(error)}`);
      }
    }
  }

  private async publish(entry: OutboxEntry): Promise<void> {
    const assignPrefix = `${SUBJECT_PREFIX.assign}.`;
    if (entry.subject.startsWith(assignPrefix)) {
      await this.ensureWorkerConsumer(entry.subject.slice(assignPrefix.length));
    }
    await this.nats.js.publish(entry.subject, encodeJson(entry.payload), { msgID: entry.msgId });
  }
}
