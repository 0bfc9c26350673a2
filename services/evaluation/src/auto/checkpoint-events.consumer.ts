import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { checkpointEventSchema, CONSUMERS, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { DurableConsumer, ensureConsumer, eventsConsumerConfig, NatsClient } from '@hounsfield/messaging';
import { AutoEvaluationService } from './auto-evaluation.service';

/** The evaluation service's durable view of committed checkpoints (auto-evaluation triggers). */
@Injectable()
export class CheckpointEventsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CheckpointEventsConsumer.name);
  private consumer?: DurableConsumer<typeof checkpointEventSchema>;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly auto: AutoEvaluationService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureConsumer(this.nats.jsm, STREAMS.events, eventsConsumerConfig(CONSUMERS.autoEvaluation, [SUBJECTS.checkpointEventsAll]));
    this.consumer = new DurableConsumer({
      js: this.nats.js,
      stream: STREAMS.events,
      durable: CONSUMERS.autoEvaluation,
      schema: checkpointEventSchema,
      handle: (event) => this.auto.onCheckpoint(event),
      logger: this.logger,
      retryDelayMs: 5000,
    });
    this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
