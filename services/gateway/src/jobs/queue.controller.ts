import { Controller, Get, Query } from '@nestjs/common';
import { JobRecord, JobState, pageQueryShape, QueueEntry, QueuePage } from '@hounsfield/contracts';
import { z } from 'zod';
import { Requires } from '../auth/auth.decorators';
import { validateOr400 } from '../http/validation';
import { SchedulerClient } from './scheduler.client';

const WAITING_OR_RUNNING: JobState[] = ['queued', 'assigned', 'starting', 'running'];
const listQuerySchema = z.object(pageQueryShape).strict();

/** A job as the queue shows it to everyone: its place and its demand, not its spec. */
export function queueEntryOf(job: JobRecord): QueueEntry {
  return {
    id: job.id,
    ...(job.owner !== undefined ? { owner: job.owner } : {}),
    kind: job.spec.kind,
    state: job.state,
    priority: job.spec.priority,
    resources: job.spec.resources,
    ...(job.queuePosition !== undefined ? { queuePosition: job.queuePosition } : {}),
    ...(job.pendingReason !== undefined ? { pendingReason: job.pendingReason } : {}),
    ...(job.workerId !== undefined ? { workerId: job.workerId } : {}),
    ...(job.gpuIndices !== undefined ? { gpuIndices: job.gpuIndices } : {}),
    createdAt: job.createdAt,
  };
}

/** The queue and what runs, of every user (every role may see where its jobs stand against others'). */
@Controller('v1/queue')
export class QueueController {
  constructor(private readonly scheduler: SchedulerClient) {}

  @Get()
  @Requires('workers:read')
  async list(@Query() query: unknown): Promise<QueuePage> {
    const { limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    const page = await this.scheduler.list({ states: WAITING_OR_RUNNING, limit, cursor });
    return { jobs: page.jobs.map(queueEntryOf), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }
}
