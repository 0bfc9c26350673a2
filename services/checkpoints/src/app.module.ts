import { serviceModule } from '@hounsfield/runtime';
import { CheckpointsConfig } from './config';

/**
 * The checkpoints service (checkpoint registry, upload/download grants, retention). It boots, connects to NATS and answers /healthz; its
 * capability arrives with its own issue.
 */
export function checkpointsModule(config: CheckpointsConfig) {
  return serviceModule({ name: 'checkpoints', natsUrl: config.HOUNSFIELD_NATS_URL });
}
