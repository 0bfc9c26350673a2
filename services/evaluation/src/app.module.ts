import { serviceModule } from '@hounsfield/runtime';
import { AutoEvaluationRepository } from './auto/auto-evaluation.repository';
import { AutoEvaluationService } from './auto/auto-evaluation.service';
import { CheckpointEventsConsumer } from './auto/checkpoint-events.consumer';
import { CheckpointsClient, SchedulerClient } from './clients/platform.clients';
import { EVALUATION_CONFIG, EvaluationConfig } from './config';
import { EvaluationRpc } from './evaluation.rpc';
import { ReportStore } from './reports/report.store';
import { CaseQueue } from './runs/case-queue';
import { EvaluationEventsPublisher } from './runs/evaluation-events.publisher';
import { EvaluationRepository } from './runs/evaluation.repository';
import { EvaluationQueries } from './runs/evaluation-queries';
import { EvaluationRuns } from './runs/evaluation-runs';
import { EvaluationSubmission } from './runs/evaluation-submission';
import { ShardReports } from './runs/shard-reports';
import { ShardSupervisor } from './runs/shard-supervisor';
import { EvaluationReconciler } from './runs/reconciler';

/**
 * The evaluation service: evaluation runs (Redis), the EVAL case queue, shard jobs through the
 * scheduler, per-case results stored by case, aggregation and Markdown/YAML/CSV reports.
 */
export function evaluationModule(config: EvaluationConfig) {
  return serviceModule({
    name: 'evaluation',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    connection: config,
    redisUrl: config.HOUNSFIELD_REDIS_URL,
    storage: config.storage,
    providers: [
      { provide: EVALUATION_CONFIG, useValue: config },
      EvaluationRepository,
      CaseQueue,
      EvaluationEventsPublisher,
      ReportStore,
      SchedulerClient,
      CheckpointsClient,
      EvaluationRuns,
      EvaluationSubmission,
      EvaluationQueries,
      ShardReports,
      ShardSupervisor,
      EvaluationReconciler,
      AutoEvaluationRepository,
      AutoEvaluationService,
      CheckpointEventsConsumer,
      EvaluationRpc,
    ],
  });
}
