import { Inject, Injectable } from '@nestjs/common';
import {
  EvaluationCaseEvent,
  EvaluationFailedEvent,
  EvaluationPlannedEvent,
  EvaluationSucceededEvent,
} from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type EvaluationStatus = 'succeeded' | 'failed';

/**
 * The per-case metrics the shards report, in base units: Dice and boundary Dice are ratios, HD95
 * and the surface Chamfer distance come in millimetres and are exposed in metres. Other metric
 * names are not exposed.
 */
const CASE_METRICS = {
  DSC: { name: 'dice_ratio', help: 'Dice similarity coefficient (DSC)', scale: 1 },
  bDSC: { name: 'boundary_dice_ratio', help: 'boundary Dice (bDSC, within a band around the defective skull)', scale: 1 },
  HD95: { name: 'hd95_meters', help: '95th percentile Hausdorff distance (HD95; reported in mm, exposed in metres)', scale: 1e-3 },
  CD: { name: 'chamfer_distance_meters', help: 'surface Chamfer distance (CD; reported in mm, exposed in metres)', scale: 1e-3 },
} as const;
type CaseMetric = keyof typeof CASE_METRICS;

const RATIO_BUCKETS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 1];
/** 0.5 mm … 10 cm. */
const DISTANCE_BUCKETS = [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1];
const CASE_SECONDS_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * Evaluations: finished ones by outcome, each live evaluation's progress (done/total cases), the
 * distributions of its per-case metrics, case durations, and each succeeded evaluation's means.
 * Cases count once per `(evaluation, case)`: the ingestion tells `onCase` whether the message is
 * the one that counts (see `EvaluationCasesRepository`). An evaluation's series go when
 * housekeeping calls `remove` (a while after it ended); later events of it are ignored.
 */
@Injectable()
export class EvaluationMetrics {
  private readonly finished: Counter<'status'>;
  private readonly casesScored: Counter;
  private readonly fallbacks: Counter;
  private readonly progress: Gauge<'evaluation_id' | 'state'>;
  private readonly caseSeconds: Histogram;
  private readonly distributions: Record<CaseMetric, Histogram<'evaluation_id'>>;
  private readonly means: Record<CaseMetric, Gauge<'evaluation_id'>>;
  private readonly done = new Map<string, number>();
  private readonly ended = new Set<string>();
  /** Evaluations whose series were removed, with when, so a late event does not bring them back. */
  private readonly retired = new Map<string, number>();

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.finished = new Counter({ name: 'hounsfield_evaluations_total', help: 'Evaluations finished, by outcome.', labelNames: ['status'], registers });
    this.casesScored = new Counter({ name: 'hounsfield_evaluation_cases_total', help: 'Evaluation cases scored (each case of an evaluation once, however often it was scored).', registers });
    this.fallbacks = new Counter({
      name: 'hounsfield_evaluation_case_fallbacks_total',
      help: 'Evaluation cases whose post-processing fell back to the unfiltered mask.',
      registers,
    });
    this.progress = new Gauge({
      name: 'hounsfield_evaluation_cases',
      help: 'Cases of a live evaluation: planned (state="total") and scored (state="done").',
      labelNames: ['evaluation_id', 'state'],
      registers,
    });
    this.caseSeconds = new Histogram({ name: 'hounsfield_evaluation_case_duration_seconds', help: 'Wall time of one evaluation case on its shard.', buckets: CASE_SECONDS_BUCKETS, registers });
    const each = <T>(make: (metric: CaseMetric) => T) =>
      Object.fromEntries((Object.keys(CASE_METRICS) as CaseMetric[]).map((metric) => [metric, make(metric)])) as Record<CaseMetric, T>;
    this.distributions = each(
      (metric) =>
        new Histogram({
          name: `hounsfield_evaluation_case_${CASE_METRICS[metric].name}`,
          help: `Per-case ${CASE_METRICS[metric].help}, per evaluation.`,
          labelNames: ['evaluation_id'],
          buckets: CASE_METRICS[metric].scale === 1 ? RATIO_BUCKETS : DISTANCE_BUCKETS,
          registers,
        }),
    );
    this.means = each(
      (metric) =>
        new Gauge({
          name: `hounsfield_evaluation_mean_${CASE_METRICS[metric].name}`,
          help: `Mean ${CASE_METRICS[metric].help} over the cases of a succeeded evaluation.`,
          labelNames: ['evaluation_id'],
          registers,
        }),
    );
    for (const status of ['succeeded', 'failed'] satisfies EvaluationStatus[]) this.finished.inc({ status }, 0);
  }

  onPlanned(event: EvaluationPlannedEvent): void {
    if (this.retired.has(event.evaluationId)) return;
    this.setProgress(event.evaluationId, this.done.get(event.evaluationId) ?? 0, event.total);
  }

  /** `counts`: this message is the first of its case (a case scored again is not counted twice). */
  onCase(event: EvaluationCaseEvent, counts: boolean): void {
    const id = event.evaluationId;
    if (this.retired.has(id)) return;
    this.setProgress(id, Math.max(this.done.get(id) ?? 0, event.done), event.total);
    if (!counts) return;
    this.casesScored.inc();
    if (event.fallback) this.fallbacks.inc();
    this.caseSeconds.observe(event.seconds);
    for (const metric of Object.keys(CASE_METRICS) as CaseMetric[]) {
      const value = event.metrics[metric];
      if (value !== undefined && Number.isFinite(value)) this.distributions[metric].observe({ evaluation_id: id }, value * CASE_METRICS[metric].scale);
    }
  }

  /** Returns whether this is the first time the evaluation is seen ending. */
  onSucceeded(event: EvaluationSucceededEvent): boolean {
    const id = event.evaluationId;
    if (!this.end(id, 'succeeded')) return false;
    this.setProgress(id, event.cases, event.cases);
    for (const metric of Object.keys(CASE_METRICS) as CaseMetric[]) {
      const mean = event.means[metric];
      if (mean !== undefined && Number.isFinite(mean)) this.means[metric].set({ evaluation_id: id }, mean * CASE_METRICS[metric].scale);
    }
    return true;
  }

  /** Returns whether this is the first time the evaluation is seen ending. */
  onFailed(event: EvaluationFailedEvent): boolean {
    return this.end(event.evaluationId, 'failed');
  }

  /** Removes the evaluation's series (housekeeping, a while after it ended). */
  remove(evaluationId: string, nowMs: number): void {
    for (const state of ['done', 'total']) this.progress.remove({ evaluation_id: evaluationId, state });
    for (const metric of Object.keys(CASE_METRICS) as CaseMetric[]) {
      this.distributions[metric].remove({ evaluation_id: evaluationId });
      this.means[metric].remove({ evaluation_id: evaluationId });
    }
    this.done.delete(evaluationId);
    this.ended.delete(evaluationId);
    this.retired.set(evaluationId, nowMs);
  }

  /** Forgets evaluations retired before `cutoffMs` (their events are long past). */
  forgetRetired(cutoffMs: number): void {
    for (const [id, at] of this.retired) if (at < cutoffMs) this.retired.delete(id);
  }

  private end(evaluationId: string, status: EvaluationStatus): boolean {
    if (this.ended.has(evaluationId) || this.retired.has(evaluationId)) return false;
    this.ended.add(evaluationId);
    this.finished.inc({ status });
    return true;
  }

  private setProgress(evaluationId: string, done: number, total: number): void {
    this.done.set(evaluationId, done);
    this.progress.set({ evaluation_id: evaluationId, state: 'done' }, done);
    this.progress.set({ evaluation_id: evaluationId, state: 'total' }, total);
  }
}
