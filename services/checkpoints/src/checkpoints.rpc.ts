import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  checkpointCommitRequestSchema,
  checkpointEvaluationUpdateSchema,
  checkpointImportSourceRequestSchema,
  checkpointImportStartRequestSchema,
  checkpointImportUploadRequestSchema,
  checkpointListRequestSchema,
  checkpointPartRequestSchema,
  checkpointPartUploadedSchema,
  checkpointResolveRequestSchema,
  checkpointUploadRequestSchema,
  codeCommitRequestSchema,
  codeSourceRequestSchema,
  codeStatRequestSchema,
  codeUploadRequestSchema,
  logReadRequestSchema,
  logSegmentCommitSchema,
  logSegmentGrantRequestSchema,
  RPC,
  WORKER_RPC,
} from '@hounsfield/contracts';
import { NatsClient, serveRpc, serveWorkerRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { CodeService } from './code/code.service';
import { CheckpointEvaluationService } from './evaluations/checkpoint-evaluation.service';
import { ImportService } from './imports/import.service';
import { LogReaderService } from './logs/log-reader.service';
import { LogStoreService } from './logs/log-store.service';
import { CheckpointQueryService } from './queries/checkpoint-query.service';
import { UploadService } from './uploads/upload.service';

const QUEUE_GROUP = 'checkpoints';

/** The checkpoints service's request/reply API (worker agents, the scheduler, the gateway), attempt logs included. */
@Injectable()
export class CheckpointsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly uploads: UploadService,
    private readonly queries: CheckpointQueryService,
    private readonly imports: ImportService,
    private readonly code: CodeService,
    private readonly evaluations: CheckpointEvaluationService,
    private readonly logStore: LogStoreService,
    private readonly logReader: LogReaderService,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    this.subscriptions = [
      // Workers: uploads, and reads for resumes and evaluation models.
      serveWorkerRpc(nc, WORKER_RPC.checkpointsUploadBegin, QUEUE_GROUP, checkpointUploadRequestSchema, (req) => this.uploads.begin(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsUploadPart, QUEUE_GROUP, checkpointPartRequestSchema, (req) => this.uploads.partGrant(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsPartUploaded, QUEUE_GROUP, checkpointPartUploadedSchema, (req) => this.uploads.partUploaded(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsCommit, QUEUE_GROUP, checkpointCommitRequestSchema, (req) => this.uploads.commit(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsResolve, QUEUE_GROUP, checkpointResolveRequestSchema, (req) => this.queries.resolve(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsDownloadPart, QUEUE_GROUP, checkpointPartRequestSchema, (req) => this.queries.downloadPart(req)),
      serveWorkerRpc(nc, WORKER_RPC.checkpointsImportSource, QUEUE_GROUP, checkpointImportSourceRequestSchema, (req, workerId) => this.imports.source(req, workerId)),
      serveWorkerRpc(nc, WORKER_RPC.codeSource, QUEUE_GROUP, codeSourceRequestSchema, (req, workerId) => this.code.source(req, workerId)),
      serveWorkerRpc(nc, WORKER_RPC.logsSegmentGrant, QUEUE_GROUP, logSegmentGrantRequestSchema, (req) => this.logStore.grant(req)),
      serveWorkerRpc(nc, WORKER_RPC.logsSegmentCommit, QUEUE_GROUP, logSegmentCommitSchema, (req) => this.logStore.commit(req)),
      // Services: the gateway, the scheduler (resume points), the evaluation service.
      serveRpc(nc, RPC.checkpointsResolve, QUEUE_GROUP, checkpointResolveRequestSchema, (req) => this.queries.resolve(req)),
      serveRpc(nc, RPC.checkpointsList, QUEUE_GROUP, checkpointListRequestSchema, (req) => this.queries.list(req)),
      serveRpc(nc, RPC.checkpointsDownloadPart, QUEUE_GROUP, checkpointPartRequestSchema, (req) => this.queries.downloadPart(req)),
      serveRpc(nc, RPC.checkpointsImportUpload, QUEUE_GROUP, checkpointImportUploadRequestSchema, (req) => this.imports.upload(req.fileName, req.size)),
      serveRpc(nc, RPC.checkpointsEvaluation, QUEUE_GROUP, checkpointEvaluationUpdateSchema, (req) => this.evaluations.update(req)),
      serveRpc(nc, RPC.checkpointsImportStart, QUEUE_GROUP, checkpointImportStartRequestSchema, (req) => this.imports.start(req)),
      serveRpc(nc, RPC.codeStat, QUEUE_GROUP, codeStatRequestSchema, (req) => this.code.stat(req.digest)),
      serveRpc(nc, RPC.codeUpload, QUEUE_GROUP, codeUploadRequestSchema, (req) => this.code.upload(req.digest)),
      serveRpc(nc, RPC.codeCommit, QUEUE_GROUP, codeCommitRequestSchema, (req) => this.code.commit(req.digest, req.uploadId)),
      serveRpc(nc, RPC.logsRead, QUEUE_GROUP, logReadRequestSchema, (req) => this.logReader.read(req)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
