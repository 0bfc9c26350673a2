import { Inject, Injectable, Logger } from '@nestjs/common';
import { AlertEvent, alertEventSchema, AlertKind, SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { NatsClient, publishValidated } from '@hounsfield/messaging';
import { AlertMetrics } from '../exposition/alert.metrics';
import { ALERT_SEVERITY } from './alert-severity';
import { AlertText } from './alert-texts';
import { AlertRepository } from './alert.repository';

export interface AlertSubject {
  jobId: string;
  attempt: number;
  kind: AlertKind;
  metric?: string;
}

/** One id per attempt, kind and metric: the same condition seen again updates the alert, not a new one. */
export function alertIdOf(subject: AlertSubject): string {
  return [subject.jobId, subject.attempt, subject.kind, ...(subject.metric ? [subject.metric] : [])].join(':');
}

/**
 * Raises and resolves alerts: stores the change (atomically deciding whether it is news), then
 * publishes news on the EVENTS stream with a message id derived from the change, so a retry or a
 * second replica never publishes it twice, and counts it.
 */
@Injectable()
export class AlertService {
  private readonly logger = new Logger(AlertService.name);

  constructor(
    private readonly alerts: AlertRepository,
    private readonly metrics: AlertMetrics,
    @Inject(NatsClient) private readonly nats: NatsClient,
  ) {}

  /** Returns true when this raised a new alert (not one already firing). */
  async raise(subject: AlertSubject, text: AlertText, step: number | undefined, at: string): Promise<boolean> {
    const alert: AlertEvent = {
      v: SCHEMA_VERSION,
      type: 'alert',
      alertId: alertIdOf(subject),
      jobId: subject.jobId,
      attempt: subject.attempt,
      kind: subject.kind,
      status: 'firing',
      severity: ALERT_SEVERITY[subject.kind],
      ...(subject.metric ? { metric: subject.metric } : {}),
      ...(step !== undefined ? { step } : {}),
      summary: text.summary,
      advice: text.advice,
      occurrences: 1,
      firedAt: at,
      at,
    };
    const { outcome, alert: stored } = await this.alerts.fire(alert);
    if (outcome !== 'fired' || !stored) return false;
    this.logger.warn(`job ${stored.jobId}#${stored.attempt} ${stored.kind}: ${stored.summary}`);
    this.metrics.onFired(stored);
    await this.publish(stored);
    return true;
  }

  async resolve(subject: AlertSubject, text: AlertText, step: number | undefined, at: string): Promise<void> {
    const { outcome, alert } = await this.alerts.resolve(subject.jobId, alertIdOf(subject), { ...text, at, ...(step !== undefined ? { step } : {}) });
    if (outcome !== 'resolved' || !alert) return;
    this.metrics.onResolved(alert);
    await this.publish(alert);
  }

  list(jobId: string): Promise<AlertEvent[]> {
    return this.alerts.list(jobId);
  }

  /** The alert is stored either way (the job shows it); a lost event is logged, not retried. */
  private async publish(alert: AlertEvent): Promise<void> {
    try {
      await publishValidated(this.nats.js, SUBJECTS.jobAlert(alert.jobId), alertEventSchema, alert, `alert:${alert.alertId}:${alert.status}:${alert.firedAt}`);
    } catch (error) {
      this.logger.warn(`alert ${alert.alertId} stored but not published: ${String(error)}`);
    }
  }
}
