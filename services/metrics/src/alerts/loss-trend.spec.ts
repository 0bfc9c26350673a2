import { describe, expect, it } from '@jest/globals';
import { LossTrend } from './loss-trend';

const options = { window: 5, spikeFactor: 3, divergenceFactor: 2 };

/** Brute-force reference: spikes are values above factor × the mean of up to `window` values before them. */
function referenceSpikes(values: number[], window: number, factor: number): number[] {
  const steps: number[] = [];
  values.forEach((value, i) => {
    const before = values.slice(Math.max(0, i - window), i);
    if (before.length < Math.min(window, 5)) return;
    const mean = before.reduce((a, b) => a + b, 0) / before.length;
    if (mean > 0 && value > factor * mean) steps.push(i);
  });
  return steps;
}

describe('LossTrend', () => {
  it('finds exactly the spikes a brute-force moving mean finds', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 400 }, (_, i) => (i % 37 === 36 ? 5 + random() * 5 : 0.5 + random()));
    const trend = new LossTrend(options);
    const found = values.flatMap((v, i) => (trend.observe(v).some((f) => f.kind === 'spike') ? [i] : []));
    expect(found).toEqual(referenceSpikes(values, 5, 3));
    expect(found.length).toBeGreaterThan(5);
  });

  it('does not take one spike for divergence, but does take a sustained rise', () => {
    const spiky = new LossTrend(options);
    const findings = [1, 1, 1, 1, 1, 1, 50, 1, 1, 1, 1, 1, 1, 1, 1, 1].flatMap((v) => spiky.observe(v));
    expect(findings.map((f) => f.kind)).toEqual(['spike']);

    const rising = new LossTrend(options);
    const kinds = [1, 1, 1, 1, 1, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5].flatMap((v) => rising.observe(v)).map((f) => f.kind);
    expect(kinds).toEqual(['divergence']);
  });

  it('judges nothing against a non-positive baseline (negative log-likelihoods)', () => {
    const trend = new LossTrend(options);
    // Worse by any measure, yet "k times a negative average" means nothing: no finding.
    expect([-5, -5, -5, -5, -5, -5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5].flatMap((v) => trend.observe(v))).toEqual([]);
  });
});
