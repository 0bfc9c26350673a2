import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { attemptCurrentRequestSchema, cancelJobRequestSchema, failJobRequestSchema, jobIdRequestSchema, listJobsRequestSchema, RPC, submitJobRequestSchema, WORKER_RPC } from '@hounsfield/contracts';
import { NatsClient, serveRpc, serveWorkerRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { z } from 'zod';
import { WorkerViewService } from '../workers/worker-view.service';
import { JobLifecycleService } from './job-lifecycle.service';

const QUEUE_GROUP = 'scheduler';

/** The scheduler's request/reply API, used by the gateway (and by worker agents: attemptCurrent). */
@Injectable()
export class JobsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly lifecycle: JobLifecycleService,
    private readonly workers: WorkerViewService,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    this.subscriptions = [
      serveRpc(nc, RPC.submitJob, QUEUE_GROUP, submitJobRequestSchema, (req) => this.lifecycle.submit(req.spec, req.owner)),
      serveRpc(nc, RPC.getJob, QUEUE_GROUP, jobIdRequestSchema, (req) => this.lifecycle.get(req.id)),
      serveRpc(nc, RPC.listJobs, QUEUE_GROUP, listJobsRequestSchema, (req) => this.lifecycle.list(req)),
      serveRpc(nc, RPC.cancelJob, QUEUE_GROUP, cancelJobRequestSchema, (req) => this.lifecycle.cancel(req.id, req.graceSeconds)),
      serveRpc(nc, RPC.failJob, QUEUE_GROUP, failJobRequestSchema, (req) => this.lifecycle.fail(req.id, req.reason, req.graceSeconds)),
      serveRpc(nc, RPC.listWorkers, QUEUE_GROUP, z.object({}).strict(), () => this.workers.list()),
      serveWorkerRpc(nc, WORKER_RPC.attemptCurrent, QUEUE_GROUP, attemptCurrentRequestSchema, (req, workerId) => this.lifecycle.attemptCurrent(req.jobId, req.attempt, workerId)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
