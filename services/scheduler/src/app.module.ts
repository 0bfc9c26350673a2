import { serviceModule } from '@hounsfield/runtime';
import { SCHEDULER_CONFIG, SchedulerConfig } from './config';
import { EventsConsumer } from './events/events.consumer';
import { JobCommands } from './jobs/job-commands.service';
import { JobAssigner } from './scheduling/job-assigner';
import { JobQueries } from './jobs/job-queries.service';
import { WorkerEvents } from './jobs/worker-events.service';
import { WorkerStopClient } from './jobs/worker-stop.client';
import { JobRepository } from './jobs/job.repository';
import { JobsRpc } from './jobs/jobs.rpc';
import { OutboxPublisher } from './scheduling/outbox.publisher';
import { InventoryService } from './scheduling/inventory.service';
import { ResumePointService } from './scheduling/resume-point.service';
import { SchedulerService } from './scheduling/scheduler.service';
import { SchedulingTrigger } from './scheduling/scheduling.trigger';
import { WorkerRepository } from './workers/worker.repository';
import { WorkerViewService } from './workers/worker-view.service';

/** Job lifecycle, queue, placement and worker inventory, for an already parsed configuration. */
export function schedulerModule(config: SchedulerConfig) {
  return serviceModule({
    name: 'scheduler',
    natsUrl: config.HOUNSFIELD_NATS_URL,
    connection: config,
    redisUrl: config.HOUNSFIELD_REDIS_URL,
    providers: [
      { provide: SCHEDULER_CONFIG, useValue: config },
      JobRepository,
      WorkerRepository,
      WorkerViewService,
      SchedulingTrigger,
      InventoryService,
      OutboxPublisher,
      ResumePointService,
      WorkerStopClient,
      JobQueries,
      JobCommands,
      JobAssigner,
      WorkerEvents,
      SchedulerService,
      EventsConsumer,
      JobsRpc,
    ],
  });
}
