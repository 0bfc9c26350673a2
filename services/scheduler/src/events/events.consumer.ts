import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CONSUMERS, PlatformEvent, platformEventSchema, STREAMS, SUBJECTS, WorkerHeartbeat } from '@hounsfield/contracts';
import { DurableConsumer, ensureConsumer, eventsConsumerConfig, NatsClient } from '@hounsfield/messaging';
import { WorkerEvents } from '../jobs/worker-events.service';
import { OutboxPublisher } from '../scheduling/outbox.publisher';
import { SchedulingTrigger } from '../scheduling/scheduling.trigger';
import { WorkerRepository } from '../workers/worker.repository';

/** The scheduler's durable view of the EVENTS stream: heartbeats, status, progress, notices and environment builds. */
@Injectable()
export class EventsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventsConsumer.name);
  private consumer?: DurableConsumer<typeof platformEventSchema>;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly workerEvents: WorkerEvents,
    private readonly workers: WorkerRepository,
    private readonly outbox: OutboxPublisher,
    private readonly trigger: SchedulingTrigger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureConsumer(
      this.nats.jsm,
      STREAMS.events,
      eventsConsumerConfig(CONSUMERS.scheduler, [SUBJECTS.workerHeartbeatAll, SUBJECTS.jobStatusAll, SUBJECTS.jobProgressAll, SUBJECTS.jobNoticeAll, SUBJECTS.jobEnvironmentAll]),
    );
    this.consumer = new DurableConsumer({
      js: this.nats.js,
      stream: STREAMS.events,
      durable: CONSUMERS.scheduler,
      schema: platformEventSchema,
      handle: (event) => this.handle(event),
      logger: this.logger,
      prefetch: 64,
      // Events of different jobs and workers are independent (each change is a guarded commit);
      // one job's or one worker's events keep their order.
      concurrency: 16,
      orderKey: (event) => (event.type === 'heartbeat' ? `worker:${event.workerId}` : `job:${event.jobId}`),
    });
    this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  private async handle(event: PlatformEvent): Promise<void> {
    switch (event.type) {
      case 'heartbeat':
        return this.onHeartbeat(event);
      case 'status':
        return this.workerEvents.onStatus(event);
      case 'progress':
        return this.workerEvents.onProgress(event);
      case 'notice':
        return this.workerEvents.onNotice(event);
      case 'environment':
        return this.workerEvents.onEnvironment(event);
      case 'state':
      case 'alert':
        return;
    }
  }

  private async onHeartbeat(heartbeat: WorkerHeartbeat): Promise<void> {
    const { registered, capacityChanged } = await this.workers.recordHeartbeat(heartbeat, Date.now());
    if (registered) {
      // The worker pulls from its own durable consumer; create it before any assignment exists.
      await this.outbox.ensureWorkerConsumer(heartbeat.workerId);
      this.logger.log(`worker ${heartbeat.workerId} registered with ${heartbeat.gpus.length} GPU(s)${heartbeat.simulated ? ' (simulated)' : ''}`);
      // A worker declared dead that comes back may still run attempts the scheduler has since
      // given to others: stop them, or their GPUs would refuse every new assignment.
      await this.workerEvents.stopStaleAttempts(heartbeat.workerId, heartbeat.running);
    }
    if (capacityChanged) this.trigger.kick();
  }
}
