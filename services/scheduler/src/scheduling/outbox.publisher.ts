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
  private again?: Promise<void>;

  constructor(
    private readonly jobs: JobRepository,
    @Inject(NatsClient) private readonly nats: NatsClient,
  ) {}

  /**
   * Sends everything in the outbox when called. A drain already under way may have read the outbox
   * before the caller's entries were written, so callers during a drain share one more after it.
   */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.drain().finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    // After the current drain, whether it succeeded or not (a failed one leaves its entries for this one).
    this.again ??= this.flushing
      .catch(() => undefined)
      .then(() => {
        this.again = undefined;
        return this.flush();
      });
    return this.again;
  }

  async ensureWorkerConsumer(workerId: string): Promise<void> {
    if (this.consumersReady.has(workerId)) return;
    await ensureWorkerConsumer(this.nats.jsm, workerId);
    this.consumersReady.add(workerId);
  }

  /**
   * Publishes every pending entry without waiting for each acknowledgement in turn (one
   * connection keeps them in order on the wire), then removes the acknowledged ones in one call.
   * An entry that failed stays, and is sent again by the next flush (a duplicate of a later entry
   * that did arrive is dropped by the server's de-duplication).
   */
  private async drain(): Promise<void> {
    const entries = await this.jobs.pendingOutbox();
    if (entries.length === 0) return;
    const outcomes = await Promise.allSettled(entries.map((entry) => this.publish(entry)));
    const sent: string[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') sent.push(entries[i].msgId);
      else this.logger.warn(`outbox entry ${entries[i].msgId} not sent yet: ${String(outcome.reason)}`);
    });
    await this.jobs.removeOutbox(...sent);
  }

  private async publish(entry: OutboxEntry): Promise<void> {
    const assignPrefix = `${SUBJECT_PREFIX.assign}.`;
    if (entry.subject.startsWith(assignPrefix)) {
      await this.ensureWorkerConsumer(entry.subject.slice(assignPrefix.length));
    }
    await this.nats.js.publish(entry.subject, encodeJson(entry.payload), { msgID: entry.msgId });
  }
}
