import { serviceModule } from '@hounsfield/runtime';
import { EvaluationConfig } from './config';

/**
 * The evaluation service (evaluation runs: case fan-out, per-case results, reports). It boots, connects to NATS and answers /healthz; its
 * capability arrives with its own issue.
 */
export function evaluationModule(config: EvaluationConfig) {
  return serviceModule({ name: 'evaluation', natsUrl: config.HOUNSFIELD_NATS_URL });
}
