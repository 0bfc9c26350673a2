import { Inject, Injectable, Logger } from '@nestjs/common';
import { CheckpointEvent, checkpointEventSchema, CheckpointRecord, JobNoticeEvent, jobNoticeEventSchema, SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { NatsClient, publishValidated } from '@hounsfield/messaging';

/**
 * Publishes `committed` and `deleted` events. They inform (dashboards, the metrics service); the
 * registry in Redis is the truth, so a lost event is logged, never fatal to a commit. Also the
 * job notices of refused commits (the scheduler keeps them on the job record).
 */
@Injectable()
export class CheckpointEventsPublisher {
  private readonly logger = new Logger(CheckpointEventsPublisher.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  async publish(action: CheckpointEvent['action'], record: CheckpointRecord): Promise<void> {
    const event: CheckpointEvent = {
      v: SCHEMA_VERSION,
      type: 'checkpoint',
      action,
      jobId: record.jobId,
      attempt: record.attempt,
      step: record.step,
      checkpointId: record.id,
      totalSize: record.totalSize,
      metrics: record.meta.metrics,
      at: new Date().toISOString(),
    };
    try {
      await publishValidated(this.nats.js, SUBJECTS.checkpointEvents(record.jobId), checkpointEventSchema, event, `${record.id}:${action}`);
    } catch (error) {
      this.logger.warn(`checkpoint ${record.id} ${action}: event not published (${String(error)})`);
    }
  }

  async notice(jobId: string, attempt: number, kind: string, message: string, details: Record<string, unknown>): Promise<void> {
    const event: JobNoticeEvent = { v: SCHEMA_VERSION, type: 'notice', jobId, attempt, kind, level: 'warning', message, details, at: new Date().toISOString() };
    try {
      await publishValidated(this.nats.js, SUBJECTS.jobNotice(jobId), jobNoticeEventSchema, event, `${jobId}:${attempt}:${kind}:${String(details.step ?? '')}`);
    } catch (error) {
      this.logger.warn(`job ${jobId}: notice ${kind} not published (${String(error)})`);
    }
  }
}
