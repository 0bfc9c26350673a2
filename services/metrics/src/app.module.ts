import { serviceModule } from '@hounsfield/runtime';
import { MetricsConfig } from './config';

/**
 * The metrics service (progress and telemetry ingestion, Prometheus exposition, training-health alerts). It boots, connects to NATS and answers /healthz; its
 * capability arrives with its own issue.
 */
export function metricsModule(config: MetricsConfig) {
  return serviceModule({ name: 'metrics', natsUrl: config.HOUNSFIELD_NATS_URL });
}
