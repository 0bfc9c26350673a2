import { Inject, Injectable } from '@nestjs/common';
import { AccessGrant, accessGrantSchema, EvaluationPage, evaluationPageSchema, EvaluationRecord, evaluationRecordSchema, EvaluationReportFormat, RPC, SCHEMA_VERSION } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The evaluation service's request/reply API, seen from the gateway. */
@Injectable()
export class EvaluationsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** Resolving both checkpoints and submitting the shard jobs takes a few round trips. */
  create(spec: unknown, owner: string): Promise<EvaluationRecord> {
    return requestRpc(this.nats.nc, RPC.evaluationsCreate, { v: SCHEMA_VERSION, spec, owner }, evaluationRecordSchema, 30_000);
  }

  get(evaluationId: string): Promise<EvaluationRecord> {
    return requestRpc(this.nats.nc, RPC.evaluationsGet, { v: SCHEMA_VERSION, evaluationId }, evaluationRecordSchema);
  }

  list(owner: string | undefined, limit: number, cursor?: string): Promise<EvaluationPage> {
    return requestRpc(this.nats.nc, RPC.evaluationsList, { v: SCHEMA_VERSION, limit, ...(owner ? { owner } : {}), ...(cursor ? { cursor } : {}) }, evaluationPageSchema);
  }

  caseFileGrant(evaluationId: string, caseId: string, file: string): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, RPC.evaluationsCaseFile, { v: SCHEMA_VERSION, evaluationId, caseId, file }, accessGrantSchema);
  }

  reportGrant(evaluationId: string, format: EvaluationReportFormat): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, RPC.evaluationsReport, { v: SCHEMA_VERSION, evaluationId, format }, accessGrantSchema);
  }
}
