import { Logger } from '@nestjs/common';
import { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import { decodeJson } from './codec';
import { MessagingError, MessagingErrorCode } from './messaging.errors';

export interface DurableConsumerOptions<T extends z.ZodType> {
  js: JetStreamClient;
  stream: string;
  durable: string;
  schema: T;
  /** Returns when the message is done (ack). Throw MessagingError to term or nak it. */
  handle: (message: z.infer<T>, raw: JsMsg) => Promise<void>;
  /** Called for every terminated message (for a dead-letter count). */
  onRejected?: (subject: string, reason: string) => void;
  logger?: Logger;
  /** Delay before a message that failed unexpectedly is redelivered. */
  retryDelayMs?: number;
  /**
   * Messages buffered ahead of the handler. 1 pulls one at a time (slow work: a message is never
   * held while another runs); more keeps a fast handler busy. Handling is sequential unless
   * `concurrency` says otherwise.
   */
  prefetch?: number;
  /**
   * Messages handled at once (default 1). Above 1, give `orderKey`: messages with the same key
   * (for example one job's events) are still handled one after another, in stream order.
   */
  concurrency?: number;
  orderKey?: (message: z.infer<T>) => string;
}

/**
 * Pulls one message at a time from a durable consumer and settles every message explicitly:
 * handled → ack, unprocessable (bad JSON, wrong shape or version) → term and log, anything else →
 * nak with a delay. Nothing a message contains can stop the loop.
 */
export class DurableConsumer<T extends z.ZodType> {
  private stopped = false;
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  private readonly logger: Logger;

  constructor(private readonly options: DurableConsumerOptions<T>) {
    this.logger = options.logger ?? new Logger(`DurableConsumer(${options.durable})`);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const prefetch = this.options.prefetch ?? 1;
    while (!this.stopped) {
      try {
        const consumer: Consumer = await this.options.js.consumers.get(this.options.stream, this.options.durable);
        this.messages = await consumer.consume(prefetch > 1 ? { max_messages: prefetch } : { max_messages: 1, expires: 1000 });
        if ((this.options.concurrency ?? 1) > 1) {
          await this.runConcurrently(this.messages);
        } else {
          for await (const msg of this.messages) {
            await this.settle(msg, this.decode(msg));
            if (this.stopped) break;
          }
        }
      } catch (error) {
        if (this.stopped) return;
        this.logger.warn(`pull from ${this.options.stream}/${this.options.durable} failed: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Up to `concurrency` handlers at once; one chain per order key keeps each key's messages in order. */
  private async runConcurrently(messages: ConsumerMessages): Promise<void> {
    const limit = this.options.concurrency ?? 1;
    const inFlight = new Set<Promise<void>>();
    const tails = new Map<string, Promise<void>>();
    for await (const msg of messages) {
      while (inFlight.size >= limit) await Promise.race(inFlight);
      const decoded = this.decode(msg);
      const key = 'message' in decoded && this.options.orderKey ? this.options.orderKey(decoded.message) : '';
      const handled = (tails.get(key) ?? Promise.resolve()).then(() => this.settle(msg, decoded));
      tails.set(key, handled);
      inFlight.add(handled);
      void handled.finally(() => {
        inFlight.delete(handled);
        if (tails.get(key) === handled) tails.delete(key);
      });
      if (this.stopped) break;
    }
    await Promise.all(inFlight);
  }

  private decode(msg: JsMsg): { message: z.infer<T> } | { error: unknown } {
    try {
      return { message: decodeJson(this.options.schema, msg.data) };
    } catch (error) {
      return { error };
    }
  }

  private async settle(msg: JsMsg, decoded: { message: z.infer<T> } | { error: unknown }): Promise<void> {
    try {
      if ('error' in decoded) throw decoded.error;
      await this.options.handle(decoded.message, msg);
      msg.ack();
    } catch (error) {
      if (error instanceof MessagingError && error.code === MessagingErrorCode.Unprocessable) {
        this.logger.warn(`terminated message on ${msg.subject} (seq ${msg.seq}): ${error.message}`);
        this.options.onRejected?.(msg.subject, error.message);
        msg.term(error.message.slice(0, 200));
        return;
      }
      const delay = error instanceof MessagingError ? error.retryDelayMs : (this.options.retryDelayMs ?? 2000);
      this.logger.warn(`will retry message on ${msg.subject} in ${delay} ms: ${String(error)}`);
      msg.nak(delay);
    }
  }
}
