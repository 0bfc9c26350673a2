import { Inject, Injectable, Logger } from '@nestjs/common';
import { DeliverPolicy } from '@nats-io/jetstream';
import { isTerminalJobState, JobEvent, jobEventSchema, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { decodeJson, NatsClient } from '@hounsfield/messaging';
import type { Response } from 'express';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { openEventStream } from '../http/event-stream';

/**
 * Streams a job's events (scheduler state changes, worker status, progress) as server-sent
 * events, from the start of its history or after `Last-Event-ID` (the stream sequence), in
 * stream order. The stream ends after the job's terminal state.
 */
@Injectable()
export class JobEventsStream {
  private readonly logger = new Logger(JobEventsStream.name);

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async pipe(jobId: string, response: Response, lastEventId?: number): Promise<void> {
    const consumer = await this.nats.js.consumers.get(STREAMS.events, {
      filter_subjects: [SUBJECTS.jobEvents(jobId)],
      ...(lastEventId !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastEventId + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const messages = await consumer.consume();
    const stopKeepalive = openEventStream(response, this.config.HOUNSFIELD_SSE_KEEPALIVE_SECONDS * 1000);
    const stop = () => {
      stopKeepalive();
      void messages.close();
    };
    response.on('close', stop);
    try {
      for await (const msg of messages) {
        let event: JobEvent;
        try {
          event = decodeJson(jobEventSchema, msg.data);
        } catch (error) {
          this.logger.warn(`skipped malformed event ${msg.seq} on ${msg.subject}: ${String(error)}`);
          continue;
        }
        response.write(`id: ${msg.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        if (event.type === 'state' && isTerminalJobState(event.state)) break;
      }
    } finally {
      stop();
      response.end();
    }
  }
}
