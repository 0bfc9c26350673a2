import { HEALTH_CHECKS, serviceModule } from '@hounsfield/runtime';
import Redis from 'ioredis';
import { CheckpointsRpc } from './checkpoints.rpc';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from './config';
import { ImportRepository } from './imports/import.repository';
import { ImportService } from './imports/import.service';
import { OBJECT_STORE, ObjectStore, objectStoreProvider } from './infrastructure/object-store.provider';
import { REDIS, RedisCloser, redisProvider } from './infrastructure/redis.provider';
import { CheckpointQueryService } from './queries/checkpoint-query.service';
import { CheckpointEventsPublisher } from './registry/checkpoint-events.publisher';
import { CheckpointRepository } from './registry/checkpoint.repository';
import { RetentionService } from './retention/retention.service';
import { SweeperService } from './retention/sweeper.service';
import { UploadSessionRepository } from './uploads/upload-session.repository';
import { UploadService } from './uploads/upload.service';
import { UploadVerifier } from './verification/upload-verifier';

/**
 * The checkpoints service: registry (Redis), upload and download grants, verification against
 * manifests, atomic `latest`, retention and garbage collection, legacy import.
 */
export function checkpointsModule(config: CheckpointsConfig) {
  return serviceModule({
    name: 'checkpoints',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    providers: [
      { provide: CHECKPOINTS_CONFIG, useValue: config },
      redisProvider,
      RedisCloser,
      objectStoreProvider,
      {
        provide: HEALTH_CHECKS,
        inject: [REDIS, OBJECT_STORE],
        useFactory: (redis: Redis, store: ObjectStore) => ({
          redis: async () => (await redis.ping()) === 'PONG',
          // Any answer (the probe object normally does not exist) shows the store is reachable.
          store: async () => {
            await store.stat('health/probe');
            return true;
          },
        }),
      },
      CheckpointRepository,
      UploadSessionRepository,
      ImportRepository,
      CheckpointEventsPublisher,
      UploadVerifier,
      RetentionService,
      UploadService,
      CheckpointQueryService,
      ImportService,
      SweeperService,
      CheckpointsRpc,
    ],
  });
}
