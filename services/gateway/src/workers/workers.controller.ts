import { Controller, Get, Query } from '@nestjs/common';
import { pageQueryShape, WorkerView } from '@hounsfield/contracts';
import { z } from 'zod';
import { Requires } from '../auth/auth.decorators';
import { pageOf } from '../http/paging';
import { validateOr400 } from '../http/validation';
import { SchedulerClient } from '../jobs/scheduler.client';

const listQuerySchema = z.object(pageQueryShape).strict();

/** Workers with their GPUs and the jobs holding them (job ids only: no user's spec). */
@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly scheduler: SchedulerClient) {}

  @Get()
  @Requires('workers:read')
  async list(@Query() query: unknown): Promise<{ workers: WorkerView[]; nextCursor?: string }> {
    const { limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    const page = pageOf(await this.scheduler.workers(), (worker) => worker.workerId, limit, cursor);
    return { workers: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }
}
