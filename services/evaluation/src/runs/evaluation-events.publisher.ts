import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  EvaluationCaseResult,
  EvaluationEvent,
  evaluationEventSchema,
  EvaluationRecord,
  EvaluationSummary,
  SCHEMA_VERSION,
  SUBJECTS,
} from '@hounsfield/contracts';
import { NatsClient, publishValidated } from '@hounsfield/messaging';

const secondsSince = (iso: string, nowMs: number) => Math.max(0, (nowMs - Date.parse(iso)) / 1000);

/**
 * Publishes an evaluation's events on `hf.events.evaluation.<eval>` after the change is stored.
 * They inform (the metrics service, dashboards); the record in Redis is the truth, so a lost event
 * is logged, never fatal. Message ids (`<eval>:<event>[:<case>]`) let the server drop a re-publish
 * within the duplicate window; a case scored again later is published again, and consumers count
 * distinct cases (see `EvaluationCaseEvent`).
 */
@Injectable()
export class EvaluationEventsPublisher {
  private readonly logger = new Logger(EvaluationEventsPublisher.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  planned(record: EvaluationRecord, total: number): Promise<void> {
    return this.publish(
      {
        v: SCHEMA_VERSION,
        type: 'evaluation_planned',
        evaluationId: record.id,
        ...(record.name ? { name: record.name } : {}),
        total,
        shards: record.spec.shards,
        at: new Date().toISOString(),
      },
      'planned',
    );
  }

  caseScored(result: EvaluationCaseResult, done: number, total: number): Promise<void> {
    return this.publish(
      {
        v: SCHEMA_VERSION,
        type: 'evaluation_case',
        evaluationId: result.evaluationId,
        caseId: result.caseId,
        defectClass: result.defectClass,
        metrics: result.metrics,
        fallback: result.fallback,
        seconds: result.seconds,
        done,
        total,
        at: new Date().toISOString(),
      },
      `case:${result.caseId}`,
    );
  }

  succeeded(record: EvaluationRecord, summary: EvaluationSummary): Promise<void> {
    const now = Date.now();
    return this.publish(
      {
        v: SCHEMA_VERSION,
        type: 'evaluation_succeeded',
        evaluationId: record.id,
        cases: summary.cases,
        fallbacks: summary.fallbacks,
        means: Object.fromEntries(Object.entries(summary.overall).map(([name, stats]) => [name, stats.mean])),
        seconds: secondsSince(record.createdAt, now),
        at: new Date(now).toISOString(),
      },
      'succeeded',
    );
  }

  failed(record: EvaluationRecord, reason: string): Promise<void> {
    const now = Date.now();
    return this.publish(
      {
        v: SCHEMA_VERSION,
        type: 'evaluation_failed',
        evaluationId: record.id,
        reason: reason.slice(0, 2048) || 'failed',
        seconds: secondsSince(record.createdAt, now),
        at: new Date(now).toISOString(),
      },
      'failed',
    );
  }

  private async publish(event: EvaluationEvent, what: string): Promise<void> {
    try {
      await publishValidated(this.nats.js, SUBJECTS.evaluationEvents(event.evaluationId), evaluationEventSchema, event, `${event.evaluationId}:${what}`);
    } catch (error) {
      this.logger.warn(`evaluation ${event.evaluationId} ${what}: event not published (${String(error)})`);
    }
  }
}
