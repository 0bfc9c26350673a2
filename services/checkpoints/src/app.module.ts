import { serviceModule } from '@hounsfield/runtime';
import { CheckpointsRpc } from './checkpoints.rpc';
import { CheckpointEvaluationService } from './evaluations/checkpoint-evaluation.service';
import { CodeService } from './code/code.service';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from './config';
import { ImportRepository } from './imports/import.repository';
import { ImportService } from './imports/import.service';
import { LogRepository } from './logs/log.repository';
import { LogReaderService } from './logs/log-reader.service';
import { LogStoreService } from './logs/log-store.service';
import { CheckpointQueryService } from './queries/checkpoint-query.service';
import { CheckpointEventsPublisher } from './registry/checkpoint-events.publisher';
import { CheckpointRepository } from './registry/checkpoint.repository';
import { JobOwnersClient } from './registry/job-owners.client';
import { RetentionService } from './retention/retention.service';
import { SweeperService } from './retention/sweeper.service';
import { UploadSessionRepository } from './uploads/upload-session.repository';
import { UploadService } from './uploads/upload.service';
import { UploadVerifier } from './verification/upload-verifier';

/**
 * The checkpoints service: registry (Redis), upload and download grants, verification against
 * manifests, atomic `latest`, retention and garbage collection, legacy import; and attempt logs
 * (segment grants and commits from workers, paged reads for the gateway, retention); uploaded
 * project code, content-addressed.
 */
export function checkpointsModule(config: CheckpointsConfig) {
  return serviceModule({
    name: 'checkpoints',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    connection: config,
    redisUrl: config.HOUNSFIELD_REDIS_URL,
    storage: config.storage,
    providers: [
      { provide: CHECKPOINTS_CONFIG, useValue: config },
      CheckpointRepository,
      UploadSessionRepository,
      ImportRepository,
      CheckpointEventsPublisher,
      JobOwnersClient,
      UploadVerifier,
      RetentionService,
      UploadService,
      CheckpointQueryService,
      CheckpointEvaluationService,
      ImportService,
      CodeService,
      LogRepository,
      LogStoreService,
      LogReaderService,
      SweeperService,
      CheckpointsRpc,
    ],
  });
}
