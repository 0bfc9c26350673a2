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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Watches one loss term of one attempt. Spikes compare a report with the mean of the reports before
 * it (the moving average the researcher would eyeball). Divergence compares the window's *median*
 * with the lowest median seen: a single spike moves the mean for a whole window but not the median,
 * so it is never mistaken for divergence. Both need a positive baseline (a negative loss, such as a
 * log-likelihood, has no meaningful "k times").
 */
export class LossTrend {
  private readonly values: number[] = [];
  private sum = 0;
  private best = Number.POSITIVE_INFINITY;
  private windowsAbove = 0;
  private diverged = false;

  constructor(private readonly options: LossTrendOptions) {}

  /** Feeds one finite value and returns what it revealed. */
  observe(value: number): TrendFinding[] {
    const findings: TrendFinding[] = [];
    const { window, spikeFactor, divergenceFactor } = this.options;
    if (this.values.length >= Math.min(window, MIN_HISTORY)) {
      const average = this.sum / this.values.length;
      if (average > 0 && value > spikeFactor * average) findings.push({ kind: 'spike', value, average });
    }
    this.values.push(value);
    this.sum += value;
    if (this.values.length > window) this.sum -= this.values.shift() as number;
    if (this.values.length === window) {
      const level = median(this.values);
      this.best = Math.min(this.best, level);
      this.windowsAbove = this.best > 0 && level > divergenceFactor * this.best ? this.windowsAbove + 1 : 0;
      if (this.windowsAbove >= window && !this.diverged) {
        this.diverged = true;
        findings.push({ kind: 'divergence', level, best: this.best });
      }
    }
    return findings;
  }
}
