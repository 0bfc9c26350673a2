import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProgressEvent, SERVICE_RPCS, StatusEvent, WorkerHeartbeat } from '@hounsfield/contracts';
import { NatsClient, requestRpc, RpcFailure } from '@hounsfield/messaging';
import { WorkerTelemetry } from '../cluster/worker-telemetry';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { JobContext } from '../jobs/job-context';
import { JobContextService } from '../jobs/job-context.service';
import { isLossTerm } from '../jobs/loss-terms';
import {
  dataBoundResolvedText,
  dataBoundText,
  lossDivergenceText,
  lossSpikeText,
  nonFiniteLossText,
  stallResolvedText,
  stallText,
  tinyBatchText,
} from './alert-texts';
import { AlertService } from './alert.service';
import { AttemptWatch } from './attempt-watch';
import { readDataBound } from './data-bound';
import { isTinyPerDeviceBatch } from './tiny-batch';

const ENDED_STATUSES: StatusEvent['state'][] = ['succeeded', 'failed', 'cancelled', 'preempted'];

/** Something a report made necessary (raise, resolve, stop); run in order after the checks. */
type Action = () => Promise<unknown>;

async function runInOrder(actions: Action[]): Promise<void> {
  for (const action of actions) await action();
}

/**
 * Watches every running attempt and raises training-health alerts: NaN/Inf losses (and the
 * fail-fast stop), loss spikes and divergence, stalls, data-bound steps and tiny per-device
 * batches. Detector state lives in memory per attempt; what was raised lives in Redis.
 */
@Injectable()
export class HealthMonitor {
  private readonly logger = new Logger(HealthMonitor.name);
  private readonly watches = new Map<string, AttemptWatch>();

  constructor(
    private readonly alerts: AlertService,
    private readonly contexts: JobContextService,
    private readonly telemetry: WorkerTelemetry,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
  ) {}

  /** The watch of this attempt; undefined for a report of an attempt older than the one watched. */
  private watch(jobId: string, attempt: number): AttemptWatch | undefined {
    const current = this.watches.get(jobId);
    if (current && current.attempt > attempt) return undefined;
    if (current && current.attempt === attempt) return current;
    const fresh = new AttemptWatch(attempt);
    this.watches.set(jobId, fresh);
    return fresh;
  }

  forget(jobId: string): void {
    this.watches.delete(jobId);
  }

  /**
   * Checks one report. The checks run at once; what they call for (raising, resolving, stopping the
   * job) runs afterwards, in order. Returns undefined when nothing needs doing (almost every report),
   * so a healthy run costs no promise per report.
   */
  onProgress(event: ProgressEvent, context: JobContext): Promise<void> | undefined {
    const watch = this.watch(event.jobId, event.attempt);
    if (!watch) return undefined;
    const actions: Action[] = [];
    const subject = { jobId: event.jobId, attempt: event.attempt };
    const sameAttempt = context.attempt === event.attempt;
    watch.lastProgress = { step: event.step, atMs: Date.parse(event.at) };
    if (watch.stallFiring) {
      watch.stallFiring = false;
      actions.push(() => this.alerts.resolve({ ...subject, kind: 'stall' }, stallResolvedText(event.step), event.step, event.at));
    }
    // Checked once per attempt, on the scheduler's record (not on the defaults used while it is unreachable).
    if (!watch.tinyBatchChecked && sameAttempt && context.known) {
      watch.tinyBatchChecked = true;
      const resolved = context.resolved;
      if (resolved && isTinyPerDeviceBatch(resolved, this.config.HOUNSFIELD_METRICS_TINY_BATCH_WORLD_SIZE)) {
        actions.push(() => this.alerts.raise({ ...subject, kind: 'tiny_per_device_batch' }, tinyBatchText(resolved), event.step, event.at));
      }
    }
    this.checkLosses(event, context, watch, actions);
    this.checkDataBound(event, sameAttempt ? context.gpuIndices : [], watch, actions);
    return actions.length ? runInOrder(actions) : undefined;
  }

  private checkLosses(event: ProgressEvent, context: JobContext, watch: AttemptWatch, actions: Action[]): void {
    const policy = context.monitoring;
    const trendOptions = {
      window: this.config.HOUNSFIELD_METRICS_LOSS_WINDOW,
      spikeFactor: policy.lossSpikeFactor ?? this.config.HOUNSFIELD_METRICS_LOSS_SPIKE_FACTOR,
      divergenceFactor: this.config.HOUNSFIELD_METRICS_DIVERGENCE_FACTOR,
    };
    for (const [metric, value] of Object.entries(event.metrics)) {
      if (!isLossTerm(metric, policy)) continue;
      const subject = { jobId: event.jobId, attempt: event.attempt, metric };
      if (typeof value !== 'number') {
        const failFast = policy.failOnNonFiniteLoss;
        const text = nonFiniteLossText(metric, value, event.step, context.resolved, failFast);
        actions.push(() => this.alerts.raise({ ...subject, kind: 'non_finite_loss' }, text, event.step, event.at));
        if (failFast && !watch.stopRequested) {
          // Set now, so the next bad report of this batch does not ask again; cleared if the scheduler could not be asked.
          watch.stopRequested = true;
          actions.push(async () => {
            watch.stopRequested = await this.failJob(event.jobId, `training-health alert: ${text.summary}`);
          });
        }
        continue;
      }
      for (const finding of watch.trend(metric, trendOptions).observe(value)) {
        if (finding.kind === 'spike') {
          const text = lossSpikeText(metric, finding.value, finding.average, trendOptions.spikeFactor, event.step, context.resolved);
          actions.push(() => this.alerts.raise({ ...subject, kind: 'loss_spike' }, text, event.step, event.at));
        } else {
          const text = lossDivergenceText(metric, finding.level, finding.best, event.step, context.resolved);
          actions.push(() => this.alerts.raise({ ...subject, kind: 'loss_divergence' }, text, event.step, event.at));
        }
      }
    }
  }

  private checkDataBound(event: ProgressEvent, gpuIndices: number[], watch: AttemptWatch, actions: Action[]): void {
    const utilization = gpuIndices.length ? this.telemetry.meanUtilizationPercent(event.workerId, gpuIndices) : undefined;
    const reading = readDataBound(event, utilization, {
      utilizationPercent: this.config.HOUNSFIELD_METRICS_DATA_BOUND_UTILIZATION_PERCENT,
      dataWaitRatio: this.config.HOUNSFIELD_METRICS_DATA_WAIT_RATIO,
    });
    if (reading.kind === 'unknown') return;
    const needed = this.config.HOUNSFIELD_METRICS_DATA_BOUND_REPORTS;
    const subject = { jobId: event.jobId, attempt: event.attempt, kind: 'data_bound' as const };
    if (reading.kind === 'bound') {
      watch.dataBoundStreak = Math.max(0, watch.dataBoundStreak) + 1;
      if (watch.dataBoundStreak >= needed && !watch.dataBoundFiring) {
        const text = dataBoundText(reading.waitRatio, event.dataWaitSeconds ?? 0, event.stepSeconds ?? 0, reading.utilizationPercent, gpuIndices.length);
        // Set even when the alert was already firing (stored before a restart): it is raised once.
        watch.dataBoundFiring = true;
        actions.push(() => this.alerts.raise(subject, text, event.step, event.at));
      }
      return;
    }
    watch.dataBoundStreak = Math.min(0, watch.dataBoundStreak) - 1;
    if (watch.dataBoundFiring && -watch.dataBoundStreak >= needed) {
      watch.dataBoundFiring = false;
      actions.push(() => this.alerts.resolve(subject, dataBoundResolvedText(utilization), event.step, event.at));
    }
  }

  async onStatus(event: StatusEvent): Promise<void> {
    const watch = this.watch(event.jobId, event.attempt);
    if (!watch) return;
    if (event.state === 'running') watch.runningSinceMs ??= Date.parse(event.at);
    if (!ENDED_STATUSES.includes(event.state)) return;
    const ended = { summary: `the attempt ended (${event.state})`, advice: 'No action needed.' };
    const subject = { jobId: event.jobId, attempt: event.attempt };
    if (watch.stallFiring) await this.alerts.resolve({ ...subject, kind: 'stall' }, ended, watch.lastProgress?.step, event.at);
    if (watch.dataBoundFiring) await this.alerts.resolve({ ...subject, kind: 'data_bound' }, ended, watch.lastProgress?.step, event.at);
    watch.stallFiring = false;
    watch.dataBoundFiring = false;
  }

  /**
   * Stalls are judged on heartbeats: the heartbeat proves the trainer process lives (its attempt is
   * listed as running), and its time and the last report's come from the same worker clock.
   */
  async onHeartbeat(heartbeat: WorkerHeartbeat): Promise<void> {
    const nowMs = Date.parse(heartbeat.at);
    for (const { jobId, attempt } of heartbeat.running) {
      const watch = this.watch(jobId, attempt);
      if (!watch || watch.stallFiring) continue;
      watch.firstSeenRunningMs ??= nowMs;
      const since = watch.lastSignOfLifeMs();
      if (since === undefined) continue;
      let context: JobContext;
      try {
        context = await this.contexts.get(jobId, attempt);
      } catch (error) {
        this.logger.debug(`stall check of ${jobId} skipped: ${String(error)}`);
        continue;
      }
      const stallLimit = context.monitoring.stallSeconds ?? this.config.HOUNSFIELD_METRICS_STALL_SECONDS;
      // Until the trainer says it runs, the attempt may still be downloading or importing.
      const started = watch.runningSinceMs !== undefined || watch.lastProgress !== undefined;
      const limit = started ? stallLimit : Math.max(stallLimit, this.config.HOUNSFIELD_METRICS_STARTUP_SECONDS);
      const silent = (nowMs - since) / 1000;
      if (silent <= limit) continue;
      await this.alerts.raise({ jobId, attempt, kind: 'stall' }, stallText(silent, watch.lastProgress?.step, heartbeat.workerId), watch.lastProgress?.step, heartbeat.at);
      // Set even when the alert was already firing (stored before a restart): it is raised once.
      watch.stallFiring = true;
    }
  }

  /** Asks the scheduler to end the job `failed`; true once it accepted (or the job already ended). */
  private async failJob(jobId: string, reason: string): Promise<boolean> {
    try {
      await requestRpc(this.nats.nc, SERVICE_RPCS.failJob, { id: jobId, reason: reason.slice(0, 4096) });
      this.logger.warn(`job ${jobId} stopped as failed: ${reason}`);
      return true;
    } catch (error) {
      if (error instanceof RpcFailure && (error.error.code === 'conflict' || error.error.code === 'not_found')) return true;
      this.logger.warn(`could not stop job ${jobId} (will try again at its next report): ${String(error)}`);
      return false;
    }
  }
}
