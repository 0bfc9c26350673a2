import { Inject, Injectable } from '@nestjs/common';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Counter, Registry } from 'prom-client';
import { RejectReason } from './event-decoder';

/** What the ingestion took in, refused and dropped. */
@Injectable()
export class IngestMetrics {
  private readonly ingested: Counter<'type'>;
  private readonly rejected: Counter<'reason'>;
  private readonly seriesDropped: Counter;

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.ingested = new Counter({ name: 'hounsfield_events_ingested_total', help: 'EVENTS stream messages processed, by type.', labelNames: ['type'], registers });
    this.rejected = new Counter({
      name: 'hounsfield_events_rejected_total',
      help: 'EVENTS stream messages terminated because they cannot be read (bad JSON, another schema version, invalid shape).',
      labelNames: ['reason'],
      registers,
    });
    this.seriesDropped = new Counter({ name: 'hounsfield_series_dropped_total', help: 'Reported values not stored because their job already has the most series allowed.', registers });
    for (const reason of ['malformed_json', 'unknown_version', 'invalid_event'] satisfies RejectReason[]) this.rejected.inc({ reason }, 0);
  }

  onIngested(type: string, count = 1): void {
    this.ingested.inc({ type }, count);
  }

  onRejected(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  onSeriesDropped(count: number): void {
    if (count > 0) this.seriesDropped.inc(count);
  }
}
