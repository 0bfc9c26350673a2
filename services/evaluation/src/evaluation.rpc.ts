import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  evaluationArtifactRequestSchema,
  evaluationCaseResultSchema,
  evaluationCreateRequestSchema,
  evaluationIdRequestSchema,
  evaluationListRequestSchema,
  evaluationPlanRequestSchema,
  evaluationReportRequestSchema,
  RPC,
  WORKER_RPC,
} from '@hounsfield/contracts';
import { NatsClient, serveRpc, serveWorkerRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { EvaluationService } from './runs/evaluation.service';

const QUEUE_GROUP = 'evaluation';

/** The evaluation service's request/reply API (the gateway, and the shards). */
@Injectable()
export class EvaluationRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly evaluations: EvaluationService,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    const e = this.evaluations;
    this.subscriptions = [
      serveRpc(nc, RPC.evaluationsCreate, QUEUE_GROUP, evaluationCreateRequestSchema, (req) => e.create(req.spec, req.owner)),
      serveRpc(nc, RPC.evaluationsGet, QUEUE_GROUP, evaluationIdRequestSchema, (req) => e.get(req.evaluationId)),
      serveRpc(nc, RPC.evaluationsCaseFile, QUEUE_GROUP, evaluationArtifactRequestSchema, (req) => e.caseFileGrant(req.evaluationId, req.caseId, req.file)),
      serveRpc(nc, RPC.evaluationsList, QUEUE_GROUP, evaluationListRequestSchema, (req) => e.list(req)),
      serveRpc(nc, RPC.evaluationsReport, QUEUE_GROUP, evaluationReportRequestSchema, (req) => e.reportGrant(req.evaluationId, req.format)),
      // The shards (evaluation_shard tasks on workers).
      serveWorkerRpc(nc, WORKER_RPC.evaluationsShardContext, QUEUE_GROUP, evaluationIdRequestSchema, (req) => e.shardContext(req.evaluationId)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsPlan, QUEUE_GROUP, evaluationPlanRequestSchema, (req) => e.plan(req.evaluationId, req.cases, req.problem)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsArtifact, QUEUE_GROUP, evaluationArtifactRequestSchema, (req) => e.artifactGrant(req.evaluationId, req.caseId, req.file)),
      serveWorkerRpc(nc, WORKER_RPC.evaluationsResult, QUEUE_GROUP, evaluationCaseResultSchema, (req) => e.recordResult(req)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
