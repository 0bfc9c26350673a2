import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { serviceModule } from '@hounsfield/runtime';
import { AdminBootstrap } from './auth/admin-bootstrap';
import { AuthGuard } from './auth/auth.guard';
import { AuthRepository } from './auth/auth.repository';
import { AuthService } from './auth/auth.service';
import { TokensController } from './auth/tokens.controller';
import { UsersController } from './auth/users.controller';
import { CheckpointDownloads } from './checkpoints/checkpoint-downloads';
import { CheckpointsClient } from './checkpoints/checkpoints.client';
import { CheckpointsController } from './checkpoints/checkpoints.controller';
import { CodeClient } from './code/code.client';
import { CodeController } from './code/code.controller';
import { GATEWAY_CONFIG, GatewayConfig } from './config';
import { EvaluationsClient } from './evaluations/evaluations.client';
import { EvaluationsController } from './evaluations/evaluations.controller';
import { ProblemFilter } from './http/problem.filter';
import { JobEventsStream } from './jobs/job-events.stream';
import { JobLogsController } from './jobs/job-logs.controller';
import { JobLogsStream } from './jobs/job-logs.stream';
import { LogsClient } from './jobs/logs.client';
import { JobsController } from './jobs/jobs.controller';
import { QueueController } from './jobs/queue.controller';
import { MetricsClient } from './jobs/metrics.client';
import { RecipeConfigValidator } from './jobs/recipe-config.validator';
import { SchedulerClient } from './jobs/scheduler.client';
import { OpenApiController } from './openapi/openapi.controller';
import { WorkersController } from './workers/workers.controller';

/** The HTTP API: authenticates every request, validates it, asks the services over NATS, streams job events and logs. */
export function gatewayModule(config: GatewayConfig) {
  return serviceModule({
    name: 'gateway',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    connection: config,
    redisUrl: config.HOUNSFIELD_REDIS_URL,
    controllers: [
      JobsController,
      JobLogsController,
      QueueController,
      WorkersController,
      CheckpointsController,
      CodeController,
      EvaluationsController,
      TokensController,
      UsersController,
      OpenApiController,
    ],
    providers: [
      { provide: GATEWAY_CONFIG, useValue: config },
      { provide: APP_FILTER, useClass: ProblemFilter },
      { provide: APP_GUARD, useClass: AuthGuard },
      AuthRepository,
      AuthService,
      AdminBootstrap,
      SchedulerClient,
      MetricsClient,
      RecipeConfigValidator,
      JobEventsStream,
      LogsClient,
      JobLogsStream,
      CheckpointsClient,
      CheckpointDownloads,
      EvaluationsClient,
      CodeClient,
    ],
  });
}
