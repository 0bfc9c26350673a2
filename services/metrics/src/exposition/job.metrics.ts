import { Inject, Injectable } from '@nestjs/common';
import { ProgressEvent } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Gauge, Registry } from 'prom-client';
import { JobContext } from '../jobs/job-context';
import { isLossTerm } from '../jobs/loss-terms';
import { numericValue } from './metric-value';

type Scalar = 'lr' | 'step' | 'plannedSteps' | 'epoch' | 'attempt' | 'throughput' | 'dataWait' | 'stepTime' | 'dataWaitRatio' | 'eta' | 'lastReport';

/** What the gauges show for one job: its latest value of everything it reported. */
interface JobEntry {
  name: string;
  kind: string;
  workerId: string;
  /** Every metric the job reported, with its latest value (a metric reported now and then keeps its last one). */
  metrics: Map<string, { value: number; loss: boolean }>;
  scalars: Partial<Record<Scalar, number>>;
  /** For steps per second from consecutive reports, when the trainer does not report step time. */
  lastReport?: { step: number; atMs: number };
}

/**
 * Per-job training gauges, labelled by `job_id` (Prometheus reserves `job` for the scrape job):
 * loss terms, other scalars, learning rate, step, epoch, throughput, data wait, ETA. Only the latest
 * values of each job are kept; the gauges are filled from them when Prometheus scrapes, so a report
 * costs a few map updates and a removed job simply has no series. A job's series live until
 * `remove(jobId)`, which the housekeeping calls some time after the job ends.
 */
@Injectable()
export class JobMetrics {
  private readonly jobs = new Map<string, JobEntry>();

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    const jobs = this.jobs;
    const perMetric = (name: string, help: string, label: 'term' | 'metric', loss: boolean) =>
      new Gauge({
        name,
        help,
        labelNames: ['job_id', label],
        registers,
        collect() {
          this.reset();
          for (const [job_id, entry] of jobs) {
            for (const [metric, m] of entry.metrics) if (m.loss === loss) this.set({ job_id, [label]: metric }, m.value);
          }
        },
      });
    perMetric('hounsfield_job_loss', 'Latest value of each loss term a trainer reports (NaN and ±Inf kept).', 'term', true);
    perMetric('hounsfield_job_metric', 'Latest value of each reported scalar that is not a loss term.', 'metric', false);
    new Gauge({
      name: 'hounsfield_job_info',
      help: 'Always 1; names the job, its kind and the worker of its current attempt.',
      labelNames: ['job_id', 'job_name', 'kind', 'worker_id'],
      registers,
      collect() {
        this.reset();
        for (const [job_id, e] of jobs) this.set({ job_id, job_name: e.name, kind: e.kind, worker_id: e.workerId }, 1);
      },
    });
    const scalar = (name: string, help: string, key: Scalar) =>
      new Gauge({
        name,
        help,
        labelNames: ['job_id'],
        registers,
        collect() {
          this.reset();
          for (const [job_id, entry] of jobs) {
            const value = entry.scalars[key];
            if (value !== undefined) this.set({ job_id }, value);
          }
        },
      });
    scalar('hounsfield_job_learning_rate', 'Learning rate the trainer reports.', 'lr');
    scalar('hounsfield_job_step', 'Latest reported optimizer step.', 'step');
    scalar('hounsfield_job_planned_steps', 'Steps the trainer plans to run (when it reports them).', 'plannedSteps');
    scalar('hounsfield_job_epoch', 'Latest reported epoch (may be fractional).', 'epoch');
    scalar('hounsfield_job_attempt', 'Attempt that reported last (1 + restarts and requeues).', 'attempt');
    scalar('hounsfield_job_samples_per_second', 'Training samples per second over all processes.', 'throughput');
    scalar('hounsfield_job_data_wait_seconds', 'Mean time a step waits for data.', 'dataWait');
    scalar('hounsfield_job_step_seconds', 'Mean wall time of a step.', 'stepTime');
    scalar('hounsfield_job_data_wait_ratio', 'Fraction of the step spent waiting for data.', 'dataWaitRatio');
    scalar('hounsfield_job_eta_seconds', 'Estimated time until the planned last step.', 'eta');
    scalar('hounsfield_job_last_progress_timestamp_seconds', 'When the trainer last reported progress (worker clock).', 'lastReport');
  }

  /** Takes the latest values of the job from one progress report. */
  observe(event: ProgressEvent, context: JobContext): void {
    let entry = this.jobs.get(event.jobId);
    if (!entry) {
      entry = { name: context.name, kind: context.kind, workerId: event.workerId, metrics: new Map(), scalars: {} };
      this.jobs.set(event.jobId, entry);
    }
    entry.name = context.name;
    entry.kind = context.kind;
    entry.workerId = event.workerId;
    for (const name in event.metrics) {
      const value = numericValue(event.metrics[name]);
      const loss = isLossTerm(name, context.monitoring);
      const metric = entry.metrics.get(name);
      if (metric) {
        metric.value = value;
        metric.loss = loss;
      } else {
        entry.metrics.set(name, { value, loss });
      }
    }
    const atMs = Date.parse(event.at);
    const s = entry.scalars;
    s.step = event.step;
    s.attempt = event.attempt;
    s.lastReport = atMs / 1000;
    if (event.totalSteps !== undefined) s.plannedSteps = event.totalSteps;
    if (event.epoch !== undefined) s.epoch = event.epoch;
    if (event.lr !== undefined) s.lr = event.lr;
    if (event.samplesPerSecond !== undefined) s.throughput = event.samplesPerSecond;
    if (event.dataWaitSeconds !== undefined) s.dataWait = event.dataWaitSeconds;
    if (event.stepSeconds !== undefined) s.stepTime = event.stepSeconds;
    if (event.dataWaitSeconds !== undefined && event.stepSeconds) s.dataWaitRatio = Math.min(1, event.dataWaitSeconds / event.stepSeconds);
    const secondsPerStep = event.stepSeconds ?? measuredSecondsPerStep(entry.lastReport, event.step, atMs);
    entry.lastReport = { step: event.step, atMs };
    if (event.totalSteps !== undefined && secondsPerStep !== undefined) s.eta = Math.max(0, event.totalSteps - event.step) * secondsPerStep;
  }

  /** Removes every series of the job. */
  remove(jobId: string): void {
    this.jobs.delete(jobId);
  }
}

function measuredSecondsPerStep(last: JobEntry['lastReport'], step: number, atMs: number): number | undefined {
  if (!last || step <= last.step || atMs <= last.atMs) return undefined;
  return (atMs - last.atMs) / 1000 / (step - last.step);
}
