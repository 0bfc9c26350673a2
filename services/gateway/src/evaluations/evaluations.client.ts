import { Inject, Injectable } from '@nestjs/common';
import { AccessGrant, EvaluationPage, EvaluationRecord, EvaluationReportFormat, SCHEMA_VERSION, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** The evaluation service's request/reply API, seen from the gateway. */
@Injectable()
export class EvaluationsClient {
  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  /** Resolving both checkpoints and submitting the shard jobs takes a few round trips. */
  create(spec: unknown, owner: string): Promise<EvaluationRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.evaluationsCreate, { v: SCHEMA_VERSION, spec, owner }, 30_000);
  }

  get(evaluationId: string): Promise<EvaluationRecord> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.evaluationsGet, { v: SCHEMA_VERSION, evaluationId });
  }

  list(owner: string | undefined, limit: number, cursor?: string): Promise<EvaluationPage> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.evaluationsList, { v: SCHEMA_VERSION, limit, ...(owner ? { owner } : {}), ...(cursor ? { cursor } : {}) });
  }

  caseFileGrant(evaluationId: string, caseId: string, file: string): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.evaluationsCaseFile, { v: SCHEMA_VERSION, evaluationId, caseId, file });
  }

  reportGrant(evaluationId: string, format: EvaluationReportFormat): Promise<AccessGrant> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.evaluationsReport, { v: SCHEMA_VERSION, evaluationId, format });
  }
}
