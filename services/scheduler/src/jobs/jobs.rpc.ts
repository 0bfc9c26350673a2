import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RPCS, WORKER_RPCS } from '@hounsfield/contracts';
import { NatsClient, serveRpc, serveWorkerRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { WorkerViewService } from '../workers/worker-view.service';
import { JobCommands } from './job-commands.service';
import { JobQueries } from './job-queries.service';

const QUEUE_GROUP = 'scheduler';

/** The scheduler's request/reply API, used by the gateway (and by worker agents: attemptCurrent). */
@Injectable()
export class JobsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly commands: JobCommands,
    private readonly queries: JobQueries,
    private readonly workers: WorkerViewService,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    this.subscriptions = [
      serveRpc(nc, SERVICE_RPCS.submitJob, QUEUE_GROUP, (req) => this.commands.submit(req.spec, req.owner)),
      serveRpc(nc, SERVICE_RPCS.getJob, QUEUE_GROUP, (req) => this.queries.get(req.id)),
      serveRpc(nc, SERVICE_RPCS.listJobs, QUEUE_GROUP, (req) => this.queries.list(req)),
      serveRpc(nc, SERVICE_RPCS.cancelJob, QUEUE_GROUP, (req) => this.commands.cancel(req.id, req.graceSeconds)),
      serveRpc(nc, SERVICE_RPCS.failJob, QUEUE_GROUP, (req) => this.commands.fail(req.id, req.reason, req.graceSeconds)),
      serveRpc(nc, SERVICE_RPCS.listWorkers, QUEUE_GROUP, () => this.workers.list()),
      serveWorkerRpc(nc, WORKER_RPCS.attemptCurrent, QUEUE_GROUP, (req, workerId) => this.queries.attemptCurrent(req.jobId, req.attempt, workerId)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
