import { Inject, Injectable } from '@nestjs/common';
import { AlertEvent, alertKindSchema } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Counter, Gauge, Registry } from 'prom-client';
import { ALERT_SEVERITY } from '../alerts/alert-severity';

/** Alert counts: every alert that fired, and those firing now per job (for the training dashboard). */
@Injectable()
export class AlertMetrics {
  private readonly fired: Counter<'kind' | 'severity'>;
  private readonly firing: Gauge<'job_id' | 'kind'>;
  private readonly firingIds = new Map<string, Set<string>>();

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    this.fired = new Counter({ name: 'hounsfield_alerts_total', help: 'Training-health alerts fired, by kind.', labelNames: ['kind', 'severity'], registers: [registry] });
    this.firing = new Gauge({ name: 'hounsfield_job_alerts_firing', help: 'Alerts firing now, per job and kind.', labelNames: ['job_id', 'kind'], registers: [registry] });
    // Every kind shows from the start, so a rate over it is 0 rather than absent.
    for (const kind of alertKindSchema.options) this.fired.inc({ kind, severity: ALERT_SEVERITY[kind] }, 0);
  }

  onFired(alert: AlertEvent): void {
    this.fired.inc({ kind: alert.kind, severity: alert.severity });
    this.track(alert, true);
  }

  onResolved(alert: AlertEvent): void {
    this.track(alert, false);
  }

  removeJob(jobId: string): void {
    for (const kind of alertKindSchema.options) this.firing.remove({ job_id: jobId, kind });
    for (const key of [...this.firingIds.keys()]) if (key.startsWith(`${jobId}\u0000`)) this.firingIds.delete(key);
  }

  private track(alert: AlertEvent, firing: boolean): void {
    const key = `${alert.jobId}\u0000${alert.kind}`;
    const ids = this.firingIds.get(key) ?? new Set<string>();
    if (firing) ids.add(alert.alertId);
    else ids.delete(alert.alertId);
    this.firingIds.set(key, ids);
    this.firing.set({ job_id: alert.jobId, kind: alert.kind }, ids.size);
  }
}
