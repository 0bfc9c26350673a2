/** Reports needed before a spike can be judged: an average of fewer is mostly noise. */
const MIN_HISTORY = 5;

export interface LossTrendOptions {
  /** Reports in the moving window. */
  window: number;
  /** A value above `spikeFactor` × the window's mean is a spike. */
  spikeFactor: number;
  /** Divergence: the window's median stays above `divergenceFactor` × its lowest median for a whole window. */
  divergenceFactor: number;
}

export type TrendFinding =
  | { kind: 'spike'; value: number; average: number }
  | { kind: 'divergence'; level: number; best: number };

const NONE: TrendFinding[] = [];

/** Index of the first element of a sorted array not less than `value`. */
function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Watches one loss term of one attempt. Spikes compare a report with the mean of the reports before
 * it (the moving average the researcher would eyeball). Divergence compares the window's *median*
 * with the lowest median seen: a single spike moves the mean for a whole window but not the median,
 * so it is never mistaken for divergence. Both need a positive baseline (a negative loss, such as a
 * log-likelihood, has no meaningful "k times"). The window is also kept sorted, so the median costs
 * no sort per report (this runs for every report of every loss term).
 */
export class LossTrend {
  private readonly values: number[] = [];
  private readonly sorted: number[] = [];
  private sum = 0;
  private best = Number.POSITIVE_INFINITY;
  private windowsAbove = 0;
  private diverged = false;

  constructor(private readonly options: LossTrendOptions) {}

  /** Feeds one finite value and returns what it revealed. */
  observe(value: number): TrendFinding[] {
    let findings = NONE;
    const { window, spikeFactor, divergenceFactor } = this.options;
    if (this.values.length >= Math.min(window, MIN_HISTORY)) {
      const average = this.sum / this.values.length;
      if (average > 0 && value > spikeFactor * average) findings = [{ kind: 'spike', value, average }];
    }
    this.values.push(value);
    this.sorted.splice(lowerBound(this.sorted, value), 0, value);
    this.sum += value;
    if (this.values.length > window) {
      const oldest = this.values.shift() as number;
      this.sorted.splice(lowerBound(this.sorted, oldest), 1);
      this.sum -= oldest;
    }
    if (this.values.length === window) {
      const mid = window >> 1;
      const level = window % 2 ? this.sorted[mid] : (this.sorted[mid - 1] + this.sorted[mid]) / 2;
      this.best = Math.min(this.best, level);
      this.windowsAbove = this.best > 0 && level > divergenceFactor * this.best ? this.windowsAbove + 1 : 0;
      if (this.windowsAbove >= window && !this.diverged) {
        this.diverged = true;
        findings = [...findings, { kind: 'divergence', level, best: this.best }];
      }
    }
    return findings;
  }
}
