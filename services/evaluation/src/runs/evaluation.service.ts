import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AccessGrant,
  AUTO_EVALUATION_METRIC_PREFIX,
  EvaluationReportFormat,
  CONSUMERS,
  EvaluationCaseResult,
  EvaluationRecord,
  evaluationSpecSchema,
  EvaluationSpec,
  EvaluationShardContext,
  isTrainingSpec,
  EvaluationSummary,
  FailureKind,
  JobRecord,
  JobState,
  ResolvedModel,
  STREAMS,
} from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import { CheckpointsClient, SchedulerClient } from '../clients/platform.clients';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { aggregate } from '../reports/aggregate';
import { renderReports } from '../reports/report-render';
import { ReportStore } from '../reports/report.store';
import { CaseQueue } from './case-queue';
import { EvaluationEventsPublisher } from './evaluation-events.publisher';
import { EvaluationRepository, PlannedCase } from './evaluation.repository';
import { shardJobSpec } from './shard-job';

/** Evaluated checkpoints stay readable (pinned) this long after submission, even if retention drops them. */
const PIN_SECONDS = 7 * 24 * 3600;
const TERMINAL_JOB_STATES: JobState[] = ['succeeded', 'failed', 'cancelled'];
/** How long one submitter may hold a run's shard claim (submitting a few shard jobs takes well under a second). */
const SHARD_CLAIM_MS = 120_000;

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
    @Inject(EVALUATION_CONFIG) private readonly config: EvaluationConfig,
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
    // The claim is taken before the record exists, so the reconciler never sees a run that is still
    // being set up as one missing its shards (it would submit them a second time).
    const token = randomBytes(8).toString('hex');
    const claimed = await this.repository.claimShards(id, token, SHARD_CLAIM_MS);
    try {
      if (!claimed || !(await this.repository.create(record))) return this.require(id);
      await this.queue.ensureConsumer(record.id, spec.caseTimeoutSeconds);
      return await this.submitShards(record, spec.shards);
    } finally {
      if (claimed) await this.repository.releaseShards(id, token);
    }
  }

  /**
   * Runs `work` on a fresh read of the record while holding the run's shard claim; undefined when
   * someone else holds it (a submission in progress, or another reconciler).
   */
  private async withShardClaim(id: string, work: (record: EvaluationRecord) => Promise<EvaluationRecord>): Promise<EvaluationRecord | undefined> {
    const token = randomBytes(8).toString('hex');
    if (!(await this.repository.claimShards(id, token, SHARD_CLAIM_MS))) return undefined;
    try {
      return await work(await this.require(id));
    } finally {
      await this.repository.releaseShards(id, token);
    }
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
      await this.fail(record, problem ?? 'no case to evaluate');
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
   * shard job has ended with work left, a replacement shard is submitted — unless the shards
   * failed their preflight (another would too) or `HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS`
   * are spent, and then the evaluation fails with the shards' reasons.
   */
  async reconcile(id: string): Promise<void> {
    let record = await this.require(id);
    if (record.status !== 'planning' && record.status !== 'running') return;
    if (record.shardJobs.length < record.spec.shards) {
      const topped = await this.withShardClaim(id, (current) => this.submitShards(current, current.spec.shards));
      // Someone else holds the claim: a submission is in progress; the next pass looks again.
      if (!topped) return;
      record = topped;
    }
    if (record.status === 'running') {
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
    }
    const jobs = await Promise.all(record.shardJobs.map((job) => this.scheduler.get(job).catch(() => undefined)));
    if (!jobs.every((job) => job !== undefined && TERMINAL_JOB_STATES.includes(job.state))) return;
    await this.replaceShards(record, jobs as JobRecord[]);
  }

  /** Every shard job of `record` has ended with work left: one more shard, or the run fails. */
  private async replaceShards(record: EvaluationRecord, ended: JobRecord[]): Promise<void> {
    const left = record.status === 'planning' ? 'before planning its cases' : 'with cases left';
    const reasons = shardReasons(ended);
    if (ended.every((job) => failureKindOf(job) === 'preflight')) {
      return this.fail(record, `every shard failed its preflight ${left}: ${reasons}`);
    }
    const replacements = record.shardJobs.length - record.spec.shards;
    if (replacements >= this.config.HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS) {
      return this.fail(record, `every shard job ended ${left}, ${replacements} replacement shard(s) included: ${reasons}`);
    }
    await this.withShardClaim(record.id, async (current) => {
      // Only when nothing changed since the states were read (another pass may have added one).
      if (current.shardJobs.length !== record.shardJobs.length || (current.status !== 'planning' && current.status !== 'running')) return current;
      this.logger.warn(`evaluation ${record.id}: every shard job has ended ${left}; submitting replacement ${replacements + 1}`);
      return this.submitShards(current, current.shardJobs.length + 1);
    });
  }

  /** Ends the run `failed` with `reason` (on its checkpoint too, for an auto-evaluation). */
  private async fail(record: EvaluationRecord, reason: string): Promise<void> {
    this.logger.warn(`evaluation ${record.id} failed: ${reason}`);
    await this.reportToCheckpoint(record, { state: 'failed', reason }).catch((error: unknown) =>
      this.logger.warn(`evaluation ${record.id}: the failure was not reported on checkpoint ${record.origin?.checkpointId}: ${String(error)}`),
    );
    await this.repository.save({ ...record, status: 'failed', error: reason.slice(0, 4000), finishedAt: now() });
    await this.events.failed(record, reason);
    await this.queue.remove(record.id);
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

/** Whose failure ended `job` (its last transition's), if it failed. */
function failureKindOf(job: JobRecord): FailureKind | undefined {
  return job.state === 'failed' ? job.history.at(-1)?.failureKind : undefined;
}

/** The distinct reasons the shard jobs ended with ("job j-1: preflight: dataset root ... (×2)"). */
function shardReasons(jobs: JobRecord[]): string {
  const counts = new Map<string, number>();
  for (const job of jobs) {
    const reason = job.reason ?? `ended ${job.state}${job.exitCode !== undefined ? ` with exit code ${job.exitCode}` : ''}`;
    const kind = failureKindOf(job);
    const key = kind ? `${kind}: ${reason}` : reason;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([reason, n]) => (n > 1 ? `${reason} (×${n})` : reason)).join('; ');
}
