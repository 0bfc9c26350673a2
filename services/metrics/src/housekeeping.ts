import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { isTerminalJobState, JobStateEvent } from '@hounsfield/contracts';
import { HealthMonitor } from './alerts/health-monitor.service';
import { WorkerTelemetry } from './cluster/worker-telemetry';
import { METRICS_CONFIG, MetricsConfig } from './config';
import { AlertMetrics } from './exposition/alert.metrics';
import { CheckpointMetrics } from './exposition/checkpoint.metrics';
import { EvaluationMetrics } from './exposition/evaluation.metrics';
import { JobMetrics } from './exposition/job.metrics';
import { JobContextService } from './jobs/job-context.service';
import { JobStateRepository } from './jobs/job-state.repository';

/**
 * Keeps cardinality bounded: a finished job's Prometheus series (and what the service remembers
 * about it) go once the finished-job TTL has passed since it ended; a silent worker's GPU series
 * go after the worker TTL; a finished evaluation's series go after the finished-evaluation TTL.
 */
@Injectable()
export class Housekeeping implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Housekeeping.name);
  private readonly finishedAt = new Map<string, number>();
  private readonly evaluationsEndedAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    private readonly jobs: JobMetrics,
    private readonly alertMetrics: AlertMetrics,
    private readonly checkpointMetrics: CheckpointMetrics,
    private readonly evaluationMetrics: EvaluationMetrics,
    private readonly telemetry: WorkerTelemetry,
    private readonly health: HealthMonitor,
    private readonly contexts: JobContextService,
    private readonly states: JobStateRepository,
  ) {}

  onApplicationBootstrap(): void {
    const ttlMs =
      Math.min(
        this.config.HOUNSFIELD_METRICS_FINISHED_JOB_TTL_SECONDS,
        this.config.HOUNSFIELD_METRICS_WORKER_TTL_SECONDS,
        this.config.HOUNSFIELD_METRICS_FINISHED_EVALUATION_TTL_SECONDS,
      ) * 1000;
    const everyMs = Math.min(30_000, Math.max(200, ttlMs / 4));
    this.timer = setInterval(() => {
      this.sweep(Date.now()).catch((error: unknown) => this.logger.warn(`housekeeping failed: ${String(error)}`));
    }, everyMs);
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A terminal state starts the job's countdown; a requeue after it (never expected) stops it. */
  onJobState(event: JobStateEvent): void {
    if (isTerminalJobState(event.state)) this.finishedAt.set(event.jobId, Date.parse(event.at));
    else this.finishedAt.delete(event.jobId);
  }

  /** A succeeded or failed evaluation starts its countdown. */
  onEvaluationEnded(evaluationId: string, atMs: number): void {
    this.evaluationsEndedAt.set(evaluationId, atMs);
  }

  async sweep(nowMs: number): Promise<void> {
    const evaluationCutoff = nowMs - this.config.HOUNSFIELD_METRICS_FINISHED_EVALUATION_TTL_SECONDS * 1000;
    for (const [evaluationId, at] of this.evaluationsEndedAt) {
      if (at > evaluationCutoff) continue;
      this.evaluationMetrics.remove(evaluationId, nowMs);
      this.evaluationsEndedAt.delete(evaluationId);
    }
    this.evaluationMetrics.forgetRetired(nowMs - this.config.HOUNSFIELD_METRICS_RETENTION_SECONDS * 1000);
    const cutoff = nowMs - this.config.HOUNSFIELD_METRICS_FINISHED_JOB_TTL_SECONDS * 1000;
    for (const [jobId, at] of this.finishedAt) {
      if (at > cutoff) continue;
      this.jobs.remove(jobId);
      this.alertMetrics.removeJob(jobId);
      this.checkpointMetrics.removeJob(jobId);
      this.health.forget(jobId);
      this.contexts.forget(jobId);
      this.finishedAt.delete(jobId);
    }
    for (const workerId of this.telemetry.expire(nowMs - this.config.HOUNSFIELD_METRICS_WORKER_TTL_SECONDS * 1000)) {
      this.logger.log(`worker ${workerId} is silent; its GPU series are removed`);
    }
    await this.states.pruneFinished(cutoff);
  }
}
