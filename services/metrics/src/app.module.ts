import { serviceModule } from '@hounsfield/runtime';
import { AlertRepository } from './alerts/alert.repository';
import { AlertService } from './alerts/alert.service';
import { HealthMonitor } from './alerts/health-monitor.service';
import { SchedulerPoller } from './cluster/scheduler.poller';
import { WorkerTelemetry } from './cluster/worker-telemetry';
import { METRICS_CONFIG, MetricsConfig } from './config';
import { AlertMetrics } from './exposition/alert.metrics';
import { CheckpointMetrics } from './exposition/checkpoint.metrics';
import { EvaluationMetrics } from './exposition/evaluation.metrics';
import { EvaluationCasesRepository } from './evaluations/evaluation-cases.repository';
import { GpuMetrics } from './exposition/gpu.metrics';
import { JobMetrics } from './exposition/job.metrics';
import { SchedulingMetrics } from './exposition/scheduling.metrics';
import { Housekeeping } from './housekeeping';
import { EventsIngestor } from './ingest/events.ingestor';
import { IngestMetrics } from './ingest/ingest.metrics';
import { JobContextService } from './jobs/job-context.service';
import { JobStateRepository } from './jobs/job-state.repository';
import { MetricsRpc } from './metrics.rpc';
import { SeriesRepository } from './series/series.repository';

/**
 * The metrics service: ingests progress, telemetry and lifecycle events, exposes them to
 * Prometheus on /metrics, stores downsampled series for the API, and raises training-health alerts.
 */
export function metricsModule(config: MetricsConfig) {
  return serviceModule({
    name: 'metrics',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    connection: config,
    redisUrl: config.HOUNSFIELD_REDIS_URL,
    providers: [
      { provide: METRICS_CONFIG, useValue: config },
      IngestMetrics,
      JobMetrics,
      GpuMetrics,
      SchedulingMetrics,
      AlertMetrics,
      CheckpointMetrics,
      EvaluationMetrics,
      EvaluationCasesRepository,
      JobContextService,
      JobStateRepository,
      SeriesRepository,
      AlertRepository,
      AlertService,
      WorkerTelemetry,
      HealthMonitor,
      Housekeeping,
      SchedulerPoller,
      EventsIngestor,
      MetricsRpc,
    ],
  });
}
