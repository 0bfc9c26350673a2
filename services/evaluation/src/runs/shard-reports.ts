import { Injectable, Logger } from '@nestjs/common';
import { AUTO_EVALUATION_METRIC_PREFIX, EvaluationCaseResult, EvaluationRecord, EvaluationSummary } from '@hounsfield/contracts';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { aggregate } from '../reports/aggregate';
import { renderReports } from '../reports/report-render';
import { ReportStore } from '../reports/report.store';
import { CaseQueue } from './case-queue';
import { EvaluationEventsPublisher } from './evaluation-events.publisher';
import { EvaluationRuns, now } from './evaluation-runs';
import { EvaluationRepository } from './evaluation.repository';

/** The means of an evaluation, named for the checkpoint (`eval.DSC`, ...); non-finite means are left out. */
export function checkpointMetricsOf(summary: EvaluationSummary): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary.overall)
      .filter(([, stats]) => stats.count > 0 && Number.isFinite(stats.mean))
      .map(([name, stats]) => [`${AUTO_EVALUATION_METRIC_PREFIX}${name}`, stats.mean]),
  );
}

/**
 * What the shards report: the first shard's case list becomes the plan, each case's result is
 * stored by case id, and the last one finalizes the run (aggregate, reports, verdict, events).
 */
@Injectable()
export class ShardReports {
  private readonly logger = new Logger(ShardReports.name);
  private readonly finalizing = new Map<string, Promise<void>>();

  constructor(
    private readonly repository: EvaluationRepository,
    private readonly runs: EvaluationRuns,
    private readonly queue: CaseQueue,
    private readonly reports: ReportStore,
    private readonly events: EvaluationEventsPublisher,
  ) {}
  /** The first shard's case list (and the family options it resolved) becomes the plan; the cases go on the queue. */
  async plan(id: string, cases: { caseId: string; defectClass: string }[], problem?: string, options?: EvaluationRecord['options']): Promise<{ total: number }> {
    let record = await this.runs.require(id);
    if (record.status === 'failed') throw evaluationError(EvaluationErrorCode.Conflict, `evaluation ${id} has failed: ${record.error}`);
    if (cases.length === 0) {
      const stored = await this.repository.plan(id);
      if (stored.length > 0) return { total: stored.length };
      await this.runs.fail(record, problem ?? 'no case to evaluate');
      return { total: 0 };
    }
    const { created, total } = await this.repository.savePlan(id, cases.map((c, index) => ({ ...c, index })));
    if (created) this.logger.log(`evaluation ${id}: ${total} case(s) planned`);
    if (record.status === 'planning') {
      record = { ...record, ...(options ? { options } : {}), status: 'running', progress: { ...record.progress, total }, plannedAt: now() };
      await this.queue.publish(id, await this.repository.plan(id));
      await this.repository.save(record);
      await this.events.planned(record, total);
    }
    return { total };
  }

  /** Stores a case's result by case id (a redelivered case overwrites); the last one finalizes. */
  async recordResult(result: EvaluationCaseResult): Promise<{ done: number; total: number }> {
    const record = await this.runs.requireCase(result.evaluationId, result.caseId);
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
    const record = await this.runs.require(id);
    if (record.status !== 'running') return;
    const results = await this.repository.results(id);
    const summary = aggregate(results);
    const keys = await this.reports.write(id, renderReports(record, results, summary));
    // Before the run is closed: if this fails, the run stays open and the reconciler finalizes it again.
    await this.runs.reportToCheckpoint(record, { state: 'succeeded', metrics: checkpointMetricsOf(summary) });
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
}
