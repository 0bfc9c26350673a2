import { Logger } from '@nestjs/common';
import { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';

/** What happens to one message of a batch: done, or never processable. */
export type Settlement = { kind: 'ack' } | { kind: 'term'; reason: string };

export interface BatchConsumerOptions<P = undefined> {
  js: JetStreamClient;
  stream: string;
  durable: string;
  /** Most messages handed over at once. */
  batchSize: number;
  /**
   * Optional work on a batch that needs nothing from the batches before it (decoding, say): it runs
   * once per batch, while the previous batch is still being handled (waiting on Redis), and its
   * result is handed to `handle`. It must not throw (a message it cannot read is for `handle` to
   * terminate).
   */
  prepare?: (messages: JsMsg[]) => P;
  /** Settles every message: returns one settlement per message, in order. Throwing naks the whole batch. */
  handle: (messages: JsMsg[], prepared: P) => Promise<Settlement[]>;
  logger: Logger;
  retryDelayMs?: number;
}

/**
 * Reads a durable consumer with `AckPolicy.All` continuously and hands over whatever arrived while
 * the previous batch was being handled (up to `batchSize`), so the work per message (validation,
 * Redis writes) is grouped under load while a lone message is handled at once. Batches are handled
 * one at a time, in stream order, and settled with one ack for the whole batch (acking a message
 * acks every earlier one): unreadable messages are terminated one by one first. A batch whose
 * handling failed (Redis down, say) is handled again after `retryDelayMs`, in place, until it
 * succeeds or the consumer stops, its messages marked in progress meanwhile: a nak would not do
 * under `AckPolicy.All`, because the next batch's ack would also ack the nak'd messages before they
 * came back. Unsettled messages at a stop are redelivered to the next reader. Nothing a message
 * contains can stop the loop. The buffer is bounded: reading pauses while it holds more than a few batches (and
 * the server stops at the consumer's ack-pending limit).
 *
 * With `prepare`, the next batch is taken from the buffer and prepared as soon as the batch being
 * handled waits for something (its Redis round trip, say), so this process decodes while the store
 * works; handling itself stays one batch at a time, in order.
 */
export class BatchConsumer<P = undefined> {
  private stopped = false;
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  private readonly buffer: JsMsg[] = [];
  private draining?: Promise<void>;

  constructor(private readonly options: BatchConsumerOptions<P>) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
    await this.draining;
  }

  private async run(): Promise<void> {
    const { js, stream, durable, logger, batchSize } = this.options;
    while (!this.stopped) {
      try {
        const consumer = await js.consumers.get(stream, durable);
        this.messages = await consumer.consume({ max_messages: batchSize });
        // Stopped while the subscription was being set up (stop() found none to close): close it
        // here; the loop below then ends at once (closing resolves only once it is iterated).
        if (this.stopped) void this.messages.close();
        for await (const msg of this.messages) {
          this.buffer.push(msg);
          this.kick();
          if (this.buffer.length >= 4 * batchSize) await this.draining;
        }
      } catch (error) {
        if (this.stopped) return;
        logger.warn(`reading ${stream}/${durable} failed (retrying): ${String(error)}`);
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // A message that arrived after the last look at the buffer, before this ran, found a drain still running.
      if (this.buffer.length > 0 && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    let next = this.take();
    while (next) {
      const handling = this.settle(next.batch, next.prepared);
      // Let the batch being handled send its requests, then prepare the next one meanwhile.
      await new Promise((resolve) => setImmediate(resolve));
      const following = this.take();
      // A batch left unsettled (stopped while retrying) must not be acked by a later batch's ack:
      // nothing after it is handled (the server redelivers all of it to the next reader).
      if (!(await handling)) {
        this.buffer.length = 0;
        return;
      }
      next = following ?? this.take();
    }
  }

  /** The next batch from the buffer, prepared; undefined when the buffer is empty. */
  private take(): { batch: JsMsg[]; prepared: P } | undefined {
    if (this.buffer.length === 0) return undefined;
    const batch = this.buffer.splice(0, this.options.batchSize);
    return { batch, prepared: this.options.prepare ? this.options.prepare(batch) : (undefined as P) };
  }

  /** Handles and settles a batch; false when it was left unsettled because the consumer stopped. */
  private async settle(batch: JsMsg[], prepared: P): Promise<boolean> {
    let settlements: Settlement[] | undefined;
    while (settlements === undefined) {
      try {
        settlements = await this.options.handle(batch, prepared);
      } catch (error) {
        if (this.stopped) return false; // left unacked: the server redelivers them to the next reader
        const delay = this.options.retryDelayMs ?? 2000;
        this.options.logger.warn(`batch of ${batch.length} will be retried in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`);
        for (const msg of batch) msg.working();
        await new Promise((r) => setTimeout(r, delay));
        if (this.stopped) return false;
      }
    }
    let last: JsMsg | undefined;
    batch.forEach((msg, i) => {
      const settlement = settlements[i] ?? { kind: 'ack' };
      if (settlement.kind === 'term') msg.term(settlement.reason.slice(0, 200));
      else last = msg;
    });
    last?.ack();
    return true;
  }
}
