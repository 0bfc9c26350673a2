import { Inject, Injectable } from '@nestjs/common';
import { ProgressEvent } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Gauge, Registry } from 'prom-client';
import { JobContext } from '../jobs/job-context';
import { isLossTerm } from '../jobs/loss-terms';
import { numericValue } from './metric-value';

type InfoLabels = { job_id: string; job_name: string; kind: string; worker_id: string };

/** The label sets one job has in each per-job gauge, so its series can be removed exactly. */
interface JobSeries {
  terms: Set<string>;
  metrics: Set<string>;
  info?: InfoLabels;
  /** Steps per second from consecutive reports, when the trainer does not report step time. */
  lastReport?: { step: number; atMs: number };
}

/**
 * Per-job training gauges, labelled by `job_id` (Prometheus reserves `job` for the scrape job):
 * loss terms, other scalars, learning rate, step, epoch, throughput, data wait, ETA. A job's
 * series live until `remove(jobId)`, which the housekeeping calls some time after the job ends.
 */
@Injectable()
export class JobMetrics {
  private readonly series = new Map<string, JobSeries>();
  private readonly loss: Gauge<'job_id' | 'term'>;
  private readonly metric: Gauge<'job_id' | 'metric'>;
  private readonly info: Gauge<'job_id' | 'job_name' | 'kind' | 'worker_id'>;
  private readonly perJob: Record<
    'lr' | 'step' | 'plannedSteps' | 'epoch' | 'attempt' | 'throughput' | 'dataWait' | 'stepTime' | 'dataWaitRatio' | 'eta' | 'lastReport',
    Gauge<'job_id'>
  >;

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.loss = new Gauge({ name: 'hounsfield_job_loss', help: 'Latest value of each loss term a trainer reports (NaN and ±Inf kept).', labelNames: ['job_id', 'term'], registers });
    this.metric = new Gauge({ name: 'hounsfield_job_metric', help: 'Latest value of each reported scalar that is not a loss term.', labelNames: ['job_id', 'metric'], registers });
    this.info = new Gauge({ name: 'hounsfield_job_info', help: 'Always 1; names the job, its kind and the worker of its current attempt.', labelNames: ['job_id', 'job_name', 'kind', 'worker_id'], registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['job_id'], registers });
    this.perJob = {
      lr: gauge('hounsfield_job_learning_rate', 'Learning rate the trainer reports.'),
      step: gauge('hounsfield_job_step', 'Latest reported optimizer step.'),
      plannedSteps: gauge('hounsfield_job_planned_steps', 'Steps the trainer plans to run (when it reports them).'),
      epoch: gauge('hounsfield_job_epoch', 'Latest reported epoch (may be fractional).'),
      attempt: gauge('hounsfield_job_attempt', 'Attempt that reported last (1 + restarts and requeues).'),
      throughput: gauge('hounsfield_job_samples_per_second', 'Training samples per second over all processes.'),
      dataWait: gauge('hounsfield_job_data_wait_seconds', 'Mean time a step waits for data.'),
      stepTime: gauge('hounsfield_job_step_seconds', 'Mean wall time of a step.'),
      dataWaitRatio: gauge('hounsfield_job_data_wait_ratio', 'Fraction of the step spent waiting for data.'),
      eta: gauge('hounsfield_job_eta_seconds', 'Estimated time until the planned last step.'),
      lastReport: gauge('hounsfield_job_last_progress_timestamp_seconds', 'When the trainer last reported progress (worker clock).'),
    };
  }

  /** Updates every gauge of the job from one progress report. */
  observe(event: ProgressEvent, context: JobContext): void {
    const job_id = event.jobId;
    const entry = this.entry(job_id);
    for (const [name, value] of Object.entries(event.metrics)) {
      if (isLossTerm(name, context.monitoring)) {
        entry.terms.add(name);
        this.loss.set({ job_id, term: name }, numericValue(value));
      } else {
        entry.metrics.add(name);
        this.metric.set({ job_id, metric: name }, numericValue(value));
      }
    }
    const atMs = Date.parse(event.at);
    const g = this.perJob;
    g.step.set({ job_id }, event.step);
    g.attempt.set({ job_id }, event.attempt);
    g.lastReport.set({ job_id }, atMs / 1000);
    if (event.totalSteps !== undefined) g.plannedSteps.set({ job_id }, event.totalSteps);
    if (event.epoch !== undefined) g.epoch.set({ job_id }, event.epoch);
    if (event.lr !== undefined) g.lr.set({ job_id }, event.lr);
    if (event.samplesPerSecond !== undefined) g.throughput.set({ job_id }, event.samplesPerSecond);
    if (event.dataWaitSeconds !== undefined) g.dataWait.set({ job_id }, event.dataWaitSeconds);
    if (event.stepSeconds !== undefined) g.stepTime.set({ job_id }, event.stepSeconds);
    if (event.dataWaitSeconds !== undefined && event.stepSeconds) {
      g.dataWaitRatio.set({ job_id }, Math.min(1, event.dataWaitSeconds / event.stepSeconds));
    }
    const secondsPerStep = event.stepSeconds ?? this.measuredSecondsPerStep(entry, event.step, atMs);
    entry.lastReport = { step: event.step, atMs };
    if (event.totalSteps !== undefined && secondsPerStep !== undefined) {
      g.eta.set({ job_id }, Math.max(0, event.totalSteps - event.step) * secondsPerStep);
    }
    this.setInfo(entry, { job_id, job_name: context.name, kind: context.kind, worker_id: event.workerId });
  }

  /** Removes every series of the job. */
  remove(jobId: string): void {
    const entry = this.series.get(jobId);
    if (!entry) return;
    for (const term of entry.terms) this.loss.remove({ job_id: jobId, term });
    for (const metric of entry.metrics) this.metric.remove({ job_id: jobId, metric });
    if (entry.info) this.info.remove(entry.info);
    for (const gauge of Object.values(this.perJob)) gauge.remove({ job_id: jobId });
    this.series.delete(jobId);
  }

  jobIds(): string[] {
    return [...this.series.keys()];
  }

  private entry(jobId: string): JobSeries {
    let entry = this.series.get(jobId);
    if (!entry) {
      entry = { terms: new Set(), metrics: new Set() };
      this.series.set(jobId, entry);
    }
    return entry;
  }

  private measuredSecondsPerStep(entry: JobSeries, step: number, atMs: number): number | undefined {
    const last = entry.lastReport;
    if (!last || step <= last.step || atMs <= last.atMs) return undefined;
    return (atMs - last.atMs) / 1000 / (step - last.step);
  }

  /** A new attempt may run on another worker: the old info series goes, so the job has exactly one. */
  private setInfo(entry: JobSeries, labels: InfoLabels): void {
    const old = entry.info;
    if (old && (old.worker_id !== labels.worker_id || old.job_name !== labels.job_name || old.kind !== labels.kind)) this.info.remove(old);
    entry.info = labels;
    this.info.set(labels, 1);
  }
}
