import { Controller, Get } from '@nestjs/common';
import { WorkerView } from '@hounsfield/contracts';
import { SchedulerClient } from '../jobs/scheduler.client';

@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly scheduler: SchedulerClient) {}

  @Get()
  async list(): Promise<{ workers: WorkerView[] }> {
    return { workers: await this.scheduler.workers() };
  }
}
