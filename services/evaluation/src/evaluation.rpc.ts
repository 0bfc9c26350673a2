import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  evaluationArtifactRequestSchema,
  evaluationCaseResultSchema,
  evaluationCreateRequestSchema,
  evaluationIdRequestSchema,
  evaluationPlanRequestSchema,
  evaluationReportRequestSchema,
  RPC,
  WORKER_RPC,
} from '@hounsfield/contracts';
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
      serveRpc(nc, RPC.evaluationsCreate, QUEUE_GROUP, evaluationCreateRequestSchema, (req) => submission.create(req.spec, req.owner)),
      serveRpc(nc, RPC.evaluationsGet, QUEUE_GROUP, evaluationIdRequestSchema, (req) => queries.get(req.evaluationId)),
      serveRpc(nc, RPC.evaluationsReport, QUEUE_GROUP, evaluationReportRequestSchema, (req) => queries.reportGrant(req.evaluationId, req.format)),
      // The shards (evaluation_shard tasks on workers).
      serveWorkerRpc(nc, WORKER_RPC.evaluationsShardContext, QUEUE_GROUP, evaluationIdRequestSchema, (req) => queries.shardContext(req.evaluationId)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsPlan, QUEUE_GROUP, evaluationPlanRequestSchema, (req) => shards.plan(req.evaluationId, req.cases, req.problem)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsArtifact, QUEUE_GROUP, evaluationArtifactRequestSchema, (req) => queries.artifactGrant(req.evaluationId, req.caseId, req.file)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsResult, QUEUE_GROUP, evaluationCaseResultSchema, (req) => shards.recordResult(req)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
