import { LossTrend, LossTrendOptions } from './loss-trend';

/** What the health monitor remembers about the attempt of a job that runs now. */
export class AttemptWatch {
  readonly trends = new Map<string, LossTrend>();
  /** Consecutive data-bound (positive) or fine (negative) reports. */
  dataBoundStreak = 0;
  lastProgress?: { step: number; atMs: number };
  /** When the trainer started (worker clock), from the worker's `running` status. */
  runningSinceMs?: number;
  /** When a heartbeat first listed the attempt, for attempts whose status was not seen. */
  firstSeenRunningMs?: number;
  tinyBatchChecked = false;
  /** A fail-fast stop was accepted by the scheduler; not asked again. */
  stopRequested = false;
  stallFiring = false;
  dataBoundFiring = false;

  constructor(readonly attempt: number) {}

  trend(metric: string, options: LossTrendOptions): LossTrend {
    let trend = this.trends.get(metric);
    if (!trend) {
      trend = new LossTrend(options);
      this.trends.set(metric, trend);
    }
    return trend;
  }

  /** The latest sign of life of the training loop: the last report, else the trainer's start. */
  lastSignOfLifeMs(): number | undefined {
    const candidates = [this.lastProgress?.atMs, this.runningSinceMs ?? this.firstSeenRunningMs].filter((t): t is number => t !== undefined);
    return candidates.length ? Math.max(...candidates) : undefined;
  }
}
