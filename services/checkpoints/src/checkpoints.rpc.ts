import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RPCS, WORKER_RPCS } from '@hounsfield/contracts';
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
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsUploadBegin, QUEUE_GROUP, (req) => this.uploads.begin(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsUploadPart, QUEUE_GROUP, (req) => this.uploads.partGrant(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsPartUploaded, QUEUE_GROUP, (req) => this.uploads.partUploaded(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsCommit, QUEUE_GROUP, (req) => this.uploads.commit(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsResolve, QUEUE_GROUP, (req) => this.queries.resolve(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsDownloadPart, QUEUE_GROUP, (req) => this.queries.downloadPart(req)),
      serveWorkerRpc(nc, WORKER_RPCS.checkpointsImportSource, QUEUE_GROUP, (req, workerId) => this.imports.source(req, workerId)),
      serveWorkerRpc(nc, WORKER_RPCS.codeSource, QUEUE_GROUP, (req, workerId) => this.code.source(req, workerId)),
      serveWorkerRpc(nc, WORKER_RPCS.logsSegmentGrant, QUEUE_GROUP, (req) => this.logStore.grant(req)),
      serveWorkerRpc(nc, WORKER_RPCS.logsSegmentCommit, QUEUE_GROUP, (req) => this.logStore.commit(req)),
      // Services: the gateway, the scheduler (resume points), the evaluation service.
      serveRpc(nc, SERVICE_RPCS.checkpointsResolve, QUEUE_GROUP, (req) => this.queries.resolve(req)),
      serveRpc(nc, SERVICE_RPCS.checkpointsList, QUEUE_GROUP, (req) => this.queries.list(req)),
      serveRpc(nc, SERVICE_RPCS.checkpointsDownloadPart, QUEUE_GROUP, (req) => this.queries.downloadPart(req)),
      serveRpc(nc, SERVICE_RPCS.checkpointsImportUpload, QUEUE_GROUP, (req) => this.imports.upload(req.fileName, req.size)),
      serveRpc(nc, SERVICE_RPCS.checkpointsEvaluation, QUEUE_GROUP, (req) => this.evaluations.update(req)),
      serveRpc(nc, SERVICE_RPCS.checkpointsImportStart, QUEUE_GROUP, (req) => this.imports.start(req)),
      serveRpc(nc, SERVICE_RPCS.codeStat, QUEUE_GROUP, (req) => this.code.stat(req.digest)),
      serveRpc(nc, SERVICE_RPCS.codeUpload, QUEUE_GROUP, (req) => this.code.upload(req.digest)),
      serveRpc(nc, SERVICE_RPCS.codeCommit, QUEUE_GROUP, (req) => this.code.commit(req.digest, req.uploadId)),
      serveRpc(nc, SERVICE_RPCS.logsRead, QUEUE_GROUP, (req) => this.logReader.read(req)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
