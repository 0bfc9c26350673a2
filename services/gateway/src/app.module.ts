import { APP_FILTER } from '@nestjs/core';
import { serviceModule } from '@hounsfield/runtime';
import { CheckpointDownloads } from './checkpoints/checkpoint-downloads';
import { CheckpointsClient } from './checkpoints/checkpoints.client';
import { CheckpointsController } from './checkpoints/checkpoints.controller';
import { GATEWAY_CONFIG, GatewayConfig } from './config';
import { EvaluationsClient } from './evaluations/evaluations.client';
import { EvaluationsController } from './evaluations/evaluations.controller';
import { ProblemFilter } from './http/problem.filter';
import { JobEventsStream } from './jobs/job-events.stream';
import { JobLogsController } from './jobs/job-logs.controller';
import { JobLogsStream } from './jobs/job-logs.stream';
import { LogsClient } from './jobs/logs.client';
import { JobsController } from './jobs/jobs.controller';
import { MetricsClient } from './jobs/metrics.client';
import { RecipeConfigValidator } from './jobs/recipe-config.validator';
import { SchedulerClient } from './jobs/scheduler.client';
import { WorkersController } from './workers/workers.controller';

/** The HTTP API: validates requests, asks the services over NATS, streams job events and logs. */
export function gatewayModule(config: GatewayConfig) {
  return serviceModule({
    name: 'gateway',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    controllers: [JobsController, JobLogsController, WorkersController, CheckpointsController, EvaluationsController],
    providers: [
      { provide: GATEWAY_CONFIG, useValue: config },
      { provide: APP_FILTER, useClass: ProblemFilter },
      SchedulerClient,
      MetricsClient,
      RecipeConfigValidator,
      JobEventsStream,
      LogsClient,
      JobLogsStream,
      CheckpointsClient,
      CheckpointDownloads,
      EvaluationsClient,
    ],
  });
}
