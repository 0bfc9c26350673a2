import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RPCS, WORKER_RPCS } from '@hounsfield/contracts';
import { NatsClient, serveRpc, serveWorkerRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { EvaluationQueries } from './runs/evaluation-queries';
import { EvaluationSubmission } from './runs/evaluation-submission';
import { ShardReports } from './runs/shard-reports';

const QUEUE_GROUP = 'evaluation';

/** The evaluation service's request/reply API (the gateway, and the shards). */
@Injectable()
export class EvaluationRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly submission: EvaluationSubmission,
    private readonly queries: EvaluationQueries,
    private readonly shards: ShardReports,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    const { submission, queries, shards } = this;
    this.subscriptions = [
      serveRpc(nc, SERVICE_RPCS.evaluationsCreate, QUEUE_GROUP, (req) => submission.create(req.spec, req.owner)),
      serveRpc(nc, SERVICE_RPCS.evaluationsGet, QUEUE_GROUP, (req) => queries.get(req.evaluationId)),
      serveRpc(nc, SERVICE_RPCS.evaluationsCaseFile, QUEUE_GROUP, (req) => queries.caseFileGrant(req.evaluationId, req.caseId, req.file)),
      serveRpc(nc, SERVICE_RPCS.evaluationsList, QUEUE_GROUP, (req) => queries.list(req)),
      serveRpc(nc, SERVICE_RPCS.evaluationsReport, QUEUE_GROUP, (req) => queries.reportGrant(req.evaluationId, req.format)),
      // The shards (evaluation_shard tasks on workers).
      serveWorkerRpc(nc, WORKER_RPCS.evaluationsShardContext, QUEUE_GROUP, (req) => queries.shardContext(req.evaluationId)),
      serveWorkerRpc(nc, WORKER_RPCS.evaluationsPlan, QUEUE_GROUP, (req) => shards.plan(req.evaluationId, req.cases, req.problem, req.options)),
      serveWorkerRpc(nc, WORKER_RPCS.evaluationsArtifact, QUEUE_GROUP, (req) => queries.artifactGrant(req.evaluationId, req.caseId, req.file)),
      serveWorkerRpc(nc, WORKER_RPCS.evaluationsResult, QUEUE_GROUP, (req) => shards.recordResult(req)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
