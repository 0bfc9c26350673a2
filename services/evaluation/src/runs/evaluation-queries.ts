import { Injectable } from '@nestjs/common';
import {
  AccessGrant,
  CONSUMERS,
  decodeCursor,
  encodeCursor,
  EvaluationListRequest,
  EvaluationPage,
  EvaluationRecord,
  EvaluationReportFormat,
  EvaluationShardContext,
  STREAMS,
} from '@hounsfield/contracts';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { ReportStore } from '../reports/report.store';
import { EvaluationRuns } from './evaluation-runs';
import { EvaluationRepository, listPositionSchema } from './evaluation.repository';

/** Reads of evaluation runs: the record with its progress, report and artefact grants, a shard's context. */
@Injectable()
export class EvaluationQueries {
  constructor(
    private readonly repository: EvaluationRepository,
    private readonly runs: EvaluationRuns,
    private readonly reports: ReportStore,
  ) {}
  async get(id: string): Promise<EvaluationRecord> {
    const record = await this.runs.require(id);
    if (record.status === 'succeeded') return record;
    const results = record.progress.total === null ? [] : await this.repository.results(id);
    const done = results.length;
    const total = record.progress.total;
    const meanSeconds = done ? results.reduce((sum, r) => sum + r.seconds, 0) / done : 0;
    const etaSeconds = total !== null && done ? ((total - done) * meanSeconds) / Math.max(1, record.spec.shards) : null;
    return { ...record, progress: { total, done, etaSeconds } };
  }

  /** A short-lived read grant for one report of a succeeded evaluation (the gateway streams the file). */
  async reportGrant(id: string, format: EvaluationReportFormat): Promise<AccessGrant> {
    const record = await this.runs.require(id);
    if (record.status !== 'succeeded' || !record.reports) {
      throw evaluationError(EvaluationErrorCode.Conflict, `evaluation ${id} is ${record.status}; its reports exist once it has succeeded`);
    }
    return this.reports.readGrant(record.reports[format]);
  }

  async shardContext(id: string): Promise<EvaluationShardContext> {
    const record = await this.runs.require(id);
    const finished = record.status === 'succeeded' || record.status === 'failed';
    const done = record.progress.total === null ? 0 : await this.repository.doneCount(id);
    return {
      evaluationId: id,
      spec: record.spec,
      models: record.models,
      stream: STREAMS.eval,
      consumer: CONSUMERS.evaluation(id),
      planned: record.progress.total !== null,
      complete: finished || (record.progress.total !== null && done >= record.progress.total),
    };
  }

  async artifactGrant(id: string, caseId: string, file: string) {
    await this.runs.requireCase(id, caseId);
    return this.reports.artifactGrant(id, caseId, file);
  }

  /** Evaluations newest first (one owner's when named), with their current progress. */
  async list(request: EvaluationListRequest): Promise<EvaluationPage> {
    const after = request.cursor === undefined ? undefined : decodeCursor(listPositionSchema, request.cursor);
    if (request.cursor !== undefined && after === undefined) {
      throw evaluationError(EvaluationErrorCode.Invalid, 'cursor is not one this list returned; start without it');
    }
    const { ids, next } = await this.repository.page(request.owner, request.limit, after);
    const evaluations = [];
    for (const id of ids) evaluations.push(await this.get(id));
    return { evaluations, ...(next ? { nextCursor: encodeCursor(next) } : {}) };
  }

  /** A read grant for one file a shard stored for a scored case (the gateway streams it). */
  async caseFileGrant(id: string, caseId: string, file: string): Promise<AccessGrant> {
    await this.runs.require(id);
    const result = await this.repository.result(id, caseId);
    if (result === undefined) throw evaluationError(EvaluationErrorCode.NotFound, `evaluation ${id} has no scored case ${caseId} (yet)`);
    const artifact = result.artifacts.find((a) => a.name === file);
    if (artifact === undefined) {
      throw evaluationError(EvaluationErrorCode.NotFound, `case ${caseId} of evaluation ${id} has no file ${file}; it has ${result.artifacts.map((a) => a.name).join(', ') || 'none'}`);
    }
    return this.reports.readGrant(artifact.key);
  }
}
