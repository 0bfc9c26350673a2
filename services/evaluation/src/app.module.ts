import { HEALTH_CHECKS, serviceModule } from '@hounsfield/runtime';
import Redis from 'ioredis';
import { CheckpointsClient, SchedulerClient } from './clients/platform.clients';
import { EVALUATION_CONFIG, EvaluationConfig } from './config';
import { EvaluationRpc } from './evaluation.rpc';
import { OBJECT_STORE, ObjectStore, objectStoreProvider } from './infrastructure/object-store.provider';
import { REDIS, RedisCloser, redisProvider } from './infrastructure/redis.provider';
import { ReportStore } from './reports/report.store';
import { CaseQueue } from './runs/case-queue';
import { EvaluationEventsPublisher } from './runs/evaluation-events.publisher';
import { EvaluationRepository } from './runs/evaluation.repository';
import { EvaluationService } from './runs/evaluation.service';
import { EvaluationReconciler } from './runs/reconciler';

/**
 * The evaluation service: evaluation runs (Redis), the EVAL case queue, shard jobs through the
 * scheduler, per-case results stored by case, aggregation and Markdown/YAML/CSV reports.
 */
export function evaluationModule(config: EvaluationConfig) {
  return serviceModule({
    name: 'evaluation',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    providers: [
      { provide: EVALUATION_CONFIG, useValue: config },
      redisProvider,
      RedisCloser,
      objectStoreProvider,
      {
        provide: HEALTH_CHECKS,
        inject: [REDIS, OBJECT_STORE],
        useFactory: (redis: Redis, store: ObjectStore) => ({
          redis: async () => (await redis.ping()) === 'PONG',
          store: async () => {
            await store.stat('health/probe');
            return true;
          },
        }),
      },
      EvaluationRepository,
      CaseQueue,
      EvaluationEventsPublisher,
      ReportStore,
      SchedulerClient,
      CheckpointsClient,
      EvaluationService,
      EvaluationReconciler,
      EvaluationRpc,
    ],
  });
}
