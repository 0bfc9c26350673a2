import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import {
  AccessGrant,
  AUTO_EVALUATION_METRIC_PREFIX,
  EvaluationReportFormat,
  CONSUMERS,
  EvaluationCaseResult,
  EvaluationListRequest,
  EvaluationPage,
  EvaluationRecord,
  decodeCursor,
  encodeCursor,
  evaluationSpecSchema,
  EvaluationSpec,
  EvaluationShardContext,
  isTrainingSpec,
  EvaluationSummary,
  JobState,
  ResolvedModel,
  STREAMS,
} from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import { CheckpointsClient, SchedulerClient } from '../clients/platform.clients';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { aggregate } from '../reports/aggregate';
import { renderReports } from '../reports/report-render';
import { ReportStore } from '../reports/report.store';
import { CaseQueue } from './case-queue';
import { EvaluationEventsPublisher } from './evaluation-events.publisher';
import { EvaluationRepository, listPositionSchema, PlannedCase } from './evaluation.repository';
import { shardJobSpec } from './shard-job';

/** Evaluated checkpoints stay readable (pinned) this long after submission, even if retention drops them. */
const PIN_SECONDS = 7 * 24 * 3600;
const TERMINAL_JOB_STATES: JobState[] = ['succeeded', 'failed', 'cancelled'];

const now = () => new Date().toISOString();

/** The means of an evaluation, named for the checkpoint (`eval.DSC`, ...); non-finite means are left out. */
export function checkpointMetricsOf(summary: EvaluationSummary): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary.overall)
      .filter(([, stats]) => stats.count > 0 && Number.isFinite(stats.mean))
      .map(([name, stats]) => [`${AUTO_EVALUATION_METRIC_PREFIX}${name}`, stats.mean]),
  );
}

/**
 * Evaluation runs: submission (checkpoints pinned, shard jobs submitted), the shards' plan and
 * results, aggregation and reports, and reconciliation of whatever a crash left half done.
 */
@Injectable()
export class EvaluationService {
  private readonly logger = new Logger(EvaluationService.name);
  private readonly finalizing = new Map<string, Promise<void>>();

  constructor(
    private readonly repository: EvaluationRepository,
    private readonly queue: CaseQueue,
    private readonly reports: ReportStore,
    private readonly scheduler: SchedulerClient,
    private readonly checkpoints: CheckpointsClient,
    private readonly events: EvaluationEventsPublisher,
  ) {}

  /** A new evaluation of `input` (validated here), recorded for the API user `owner`. */
  async create(input: unknown, owner?: string): Promise<EvaluationRecord> {
    const parsed = evaluationSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      throw evaluationError(EvaluationErrorCode.Invalid, 'invalid evaluation spec', { issues });
    }
    return this.start(parsed.data, `ev-${randomBytes(6).toString('hex')}`, { owner });
  }

  /**
   * Starts the evaluation `id` of `spec` (checkpoints resolved and pinned, shard jobs submitted).
   * Starting an id that exists returns the stored run (a redelivered auto-evaluation trigger).
   */
  async start(
    spec: EvaluationSpec,
    id: string,
    options: {
      /** The API user it is recorded for (its shard jobs too). */
      owner?: string;
      origin?: EvaluationRecord['origin'];
      /** Shorter pins for checkpoints something else keeps meanwhile (by checkpoint id). */
      pinSecondsOf?: Record<string, number>;
    } = {},
  ): Promise<EvaluationRecord> {
    const { owner, origin, pinSecondsOf = {} } = options;
    const existing = await this.repository.get(id);
    if (existing) return existing;
    const [diffusion, voxelization] = await Promise.all([
      this.resolveModel(spec, 'diffusion', pinSecondsOf),
      this.resolveModel(spec, 'voxelization', pinSecondsOf),
    ]);
    const record: EvaluationRecord = {
      id,
      ...(owner !== undefined ? { owner } : {}),
      ...(spec.name ? { name: spec.name } : {}),
      status: 'planning',
      spec,
      models: { diffusion, voxelization },
      shardJobs: [],
      progress: { total: null, done: 0, etaSeconds: null },
      ...(origin ? { origin } : {}),
      createdAt: now(),
    };
    if (!(await this.repository.create(record))) return this.require(id);
    await this.queue.ensureConsumer(record.id, spec.caseTimeoutSeconds);
    return this.submitShards(record, spec.shards);
  }

  private async resolveModel(spec: EvaluationSpec, kind: 'diffusion' | 'voxelization', pinSecondsOf: Record<string, number>): Promise<ResolvedModel> {
    const wanted = spec.checkpoints[kind];
    const where = `checkpoints.${kind}`;
    const checkpoint = await this.checkpoints.resolve(wanted.job, wanted.ref, pinSecondsOf[wanted.ref] ?? PIN_SECONDS).catch((error: unknown) => {
      throw this.asSpecProblem(error, where, `no committed checkpoint ${wanted.job}:${wanted.ref}`);
    });
    let config = wanted.config;
    if (config === undefined) {
      const job = await this.scheduler.get(wanted.job).catch((error: unknown) => {
        throw this.asSpecProblem(error, `${where}.config`, `job ${wanted.job} is unknown to the scheduler; give the trainer config`);
      });
      if (!isTrainingSpec(job.spec)) {
        throw evaluationError(EvaluationErrorCode.Invalid, `job ${wanted.job} is a ${job.spec.kind} task, not a training`, { issues: [{ path: where, message: 'name a training job' }] });
      }
      config = job.spec.config;
    }
    return { jobId: wanted.job, checkpointId: checkpoint.id, step: checkpoint.step, config };
  }

  private asSpecProblem(error: unknown, path: string, message: string): unknown {
    if (error instanceof RpcFailure && error.error.code === 'not_found') {
      return evaluationError(EvaluationErrorCode.Invalid, message, { issues: [{ path, message }] });
    }
    return error;
  }

  /** Submits shard jobs until the record has `count` (after a crash, the missing ones). */
  private async submitShards(record: EvaluationRecord, count: number): Promise<EvaluationRecord> {
    while (record.shardJobs.length < count) {
      const job = await this.scheduler.submit(shardJobSpec(record.id, record.spec, record.shardJobs.length), record.owner);
      record = { ...record, shardJobs: [...record.shardJobs, job.id] };
      await this.repository.save(record);
    }
    return record;
  }

  async get(id: string): Promise<EvaluationRecord> {
    const record = await this.require(id);
    if (record.status === 'succeeded') return record;
    const results = record.progress.total === null ? [] : await this.repository.results(id);
    const done = results.length;
    const total = record.progress.total;
    const meanSeconds = done ? results.reduce((sum, r) => sum + r.seconds, 0) / done : 0;
    const etaSeconds = total !== null && done ? ((total - done) * meanSeconds) / Math.max(1, record.spec.shards) : null;
    return { ...record, progress: { total, done, etaSeconds } };
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
    await this.require(id);
    const result = await this.repository.result(id, caseId);
    if (result === undefined) throw evaluationError(EvaluationErrorCode.NotFound, `evaluation ${id} has no scored case ${caseId} (yet)`);
    const artifact = result.artifacts.find((a) => a.name === file);
    if (artifact === undefined) {
      throw evaluationError(EvaluationErrorCode.NotFound, `case ${caseId} of evaluation ${id} has no file ${file}; it has ${result.artifacts.map((a) => a.name).join(', ') || 'none'}`);
    }
    return this.reports.readGrant(artifact.key);
  }

  /** A short-lived read grant for one report of a succeeded evaluation (the gateway streams the file). */
  async reportGrant(id: string, format: EvaluationReportFormat): Promise<AccessGrant> {
    const record = await this.require(id);
    if (record.status !== 'succeeded' || !record.reports) {
      throw evaluationError(EvaluationErrorCode.Conflict, `evaluation ${id} is ${record.status}; its reports exist once it has succeeded`);
    }
    return this.reports.readGrant(record.reports[format]);
  }

  async shardContext(id: string): Promise<EvaluationShardContext> {
    const record = await this.require(id);
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

  /** The first shard's case list becomes the plan; the cases go on the queue. */
  async plan(id: string, cases: { caseId: string; defectClass: string }[], problem?: string): Promise<{ total: number }> {
    let record = await this.require(id);
    if (record.status === 'failed') throw evaluationError(EvaluationErrorCode.Conflict, `evaluation ${id} has failed: ${record.error}`);
    if (cases.length === 0) {
      const stored = await this.repository.plan(id);
      if (stored.length > 0) return { total: stored.length };
      await this.reportToCheckpoint(record, { state: 'failed', reason: problem ?? 'no case to evaluate' }).catch((error: unknown) =>
        this.logger.warn(`evaluation ${id}: the failure was not reported on checkpoint ${record.origin?.checkpointId}: ${String(error)}`),
      );
      await this.repository.save({ ...record, status: 'failed', error: problem ?? 'no case to evaluate', finishedAt: now() });
      await this.events.failed(record, problem ?? 'no case to evaluate');
      await this.queue.remove(id);
      return { total: 0 };
    }
    const { created, total } = await this.repository.savePlan(id, cases.map((c, index) => ({ ...c, index })));
    if (created) this.logger.log(`evaluation ${id}: ${total} case(s) planned`);
    if (record.status === 'planning') {
      record = { ...record, status: 'running', progress: { ...record.progress, total }, plannedAt: now() };
      await this.queue.publish(id, await this.repository.plan(id));
      await this.repository.save(record);
      await this.events.planned(record, total);
    }
    return { total };
  }

  async artifactGrant(id: string, caseId: string, file: string) {
    await this.requireCase(id, caseId);
    return this.reports.artifactGrant(id, caseId, file);
  }

  /** Stores a case's result by case id (a redelivered case overwrites); the last one finalizes. */
  async recordResult(result: EvaluationCaseResult): Promise<{ done: number; total: number }> {
    const record = await this.requireCase(result.evaluationId, result.caseId);
    const total = record.progress.total ?? 0;
    if (record.status !== 'running') return { done: await this.repository.doneCount(record.id), total };
    const done = await this.repository.saveResult(result);
    await this.events.caseScored(result, done, total);
    if (done >= total) await this.finalize(record.id);
    return { done, total };
  }

  /** Aggregates, writes the reports and closes the run; concurrent calls share one run of it. */
  finalize(id: string): Promise<void> {
    const running = this.finalizing.get(id);
    if (running) return running;
    const work = this.writeReports(id).finally(() => this.finalizing.delete(id));
    this.finalizing.set(id, work);
    return work;
  }

  private async writeReports(id: string): Promise<void> {
    const record = await this.require(id);
    if (record.status !== 'running') return;
    const results = await this.repository.results(id);
    const summary = aggregate(results);
    const keys = await this.reports.write(id, renderReports(record, results, summary));
    // Before the run is closed: if this fails, the run stays open and the reconciler finalizes it again.
    await this.reportToCheckpoint(record, { state: 'succeeded', metrics: checkpointMetricsOf(summary) });
    await this.repository.save({
      ...record,
      status: 'succeeded',
      summary,
      reports: keys,
      progress: { total: record.progress.total, done: results.length, etaSeconds: 0 },
      finishedAt: now(),
    });
    await this.events.succeeded(record, summary);
    await this.queue.remove(id);
    this.logger.log(`evaluation ${id}: ${results.length} case(s) scored; reports written`);
  }

  /**
   * Repairs what a crash or a dead shard left: missing shard jobs are submitted, a complete run
   * is finalized, planned cases with neither a result nor a message are re-queued, and when every
   * shard job has ended with cases left, one more shard is submitted.
   */
  async reconcile(id: string): Promise<void> {
    let record = await this.require(id);
    if (record.status === 'planning' || record.status === 'running') {
      if (record.shardJobs.length < record.spec.shards) record = await this.submitShards(record, record.spec.shards);
    }
    if (record.status !== 'running') return;
    const total = record.progress.total ?? 0;
    const have = await this.repository.resultIds(id);
    if (have.size >= total) return this.finalize(id);
    const outstanding = await this.queue.outstanding(id);
    if (outstanding === undefined) await this.queue.ensureConsumer(id, record.spec.caseTimeoutSeconds);
    if (!outstanding) {
      const missing = (await this.repository.plan(id)).filter((c: PlannedCase) => !have.has(c.caseId));
      this.logger.warn(`evaluation ${id}: re-queueing ${missing.length} case(s) without a result or a message`);
      await this.queue.publish(id, missing);
    }
    const states = await Promise.all(record.shardJobs.map((job) => this.scheduler.get(job).then((j) => j.state, () => undefined)));
    if (states.every((state) => state !== undefined && TERMINAL_JOB_STATES.includes(state))) {
      this.logger.warn(`evaluation ${id}: every shard job has ended with cases left; submitting another`);
      await this.submitShards(record, record.shardJobs.length + 1);
    }
  }

  /** An auto-evaluation's verdict, on the checkpoint it evaluates (nothing for other evaluations). */
  private async reportToCheckpoint(record: EvaluationRecord, verdict: { state: 'succeeded' | 'failed'; metrics?: Record<string, number>; reason?: string }) {
    if (!record.origin) return;
    await this.checkpoints.reportEvaluation({ checkpointId: record.origin.checkpointId, evaluationId: record.id, ...verdict });
  }

  activeIds(): Promise<string[]> {
    return this.repository.active();
  }

  private async require(id: string): Promise<EvaluationRecord> {
    const record = await this.repository.get(id);
    if (!record) throw evaluationError(EvaluationErrorCode.NotFound, `no evaluation ${id}`);
    return record;
  }

  private async requireCase(id: string, caseId: string): Promise<EvaluationRecord> {
    const record = await this.require(id);
    if (!(await this.repository.planned(id, caseId))) {
      throw evaluationError(EvaluationErrorCode.Invalid, `case ${caseId} is not planned in evaluation ${id}`);
    }
    return record;
  }
}
