import { describe, expect, it } from '@jest/globals';
import { orderMember } from '../registry/checkpoint.repository';
import { bestBy, checkpointsToKeep, RetentionCandidate } from './retention-policy';

/** Checkpoints of attempt 1 at the given steps, with `loss` from the map (absent when not given). */
function candidates(steps: number[], loss: Record<number, number | 'NaN'> = {}, attempt = 1): RetentionCandidate[] {
  return steps.map((step) => ({
    id: `a${attempt}s${step}`,
    step,
    member: orderMember(attempt, step, `a${attempt}s${step}`),
    metrics: step in loss ? { loss: loss[step] } : ({} as Record<string, number>),
  }));
}

const sorted = (ids: Set<string>) => [...ids].sort();

describe('checkpointsToKeep', () => {
  it('keeps checkpoints awaiting their evaluation, then the best by the evaluation metric once every verdict is in', () => {
    const policy = { keepLast: 1, keepBest: { metric: 'eval.HD95', mode: 'min' as const, count: 1 } };
    const all = candidates([10, 20, 30, 40]);
    // Nothing evaluated yet: everything awaiting stays.
    const awaiting = all.map((c) => ({ ...c, awaiting: true }));
    expect(sorted(checkpointsToKeep(awaiting, policy))).toEqual(['a1s10', 'a1s20', 'a1s30', 'a1s40']);
    // Verdicts for 10, 20 and 30 (30 skipped), 40 still awaiting: the best of the scored, the latest, the awaiting.
    const hd95: Record<number, number | undefined> = { 10: 4.5, 20: 2.5 };
    const judged: RetentionCandidate[] = all.map((c) => {
      const value = hd95[c.step];
      const metrics: Record<string, number> = value === undefined ? {} : { 'eval.HD95': value };
      return { ...c, awaiting: c.step === 40, metrics };
    });
    expect(sorted(checkpointsToKeep(judged, policy))).toEqual(['a1s20', 'a1s40']);
  });

  it('keeps the newest keepLast and nothing else', () => {
    expect(sorted(checkpointsToKeep(candidates([10, 20, 30, 40, 50]), { keepLast: 2 }))).toEqual(['a1s40', 'a1s50']);
  });

  it('keeps the best by a metric, in either direction, ignoring non-finite values', () => {
    const all = candidates([10, 20, 30, 40, 50], { 10: 0.1, 20: 0.5, 30: 'NaN', 40: 0.3 });
    expect(sorted(checkpointsToKeep(all, { keepLast: 1, keepBest: { metric: 'loss', mode: 'min', count: 2 } }))).toEqual([
      'a1s10',
      'a1s40',
      'a1s50',
    ]);
    expect(sorted(checkpointsToKeep(all, { keepLast: 1, keepBest: { metric: 'loss', mode: 'max', count: 1 } }))).toEqual(['a1s20', 'a1s50']);
  });

  it('keeps every step divisible by keepEvery', () => {
    expect(sorted(checkpointsToKeep(candidates([100, 200, 300, 400, 500]), { keepLast: 1, keepEvery: 200 }))).toEqual([
      'a1s200',
      'a1s400',
      'a1s500',
    ]);
  });

  it('orders by attempt before step: a newer attempt at a lower step is the latest', () => {
    const all = [...candidates([10, 20, 30], {}, 1), ...candidates([15], {}, 2)];
    expect(sorted(checkpointsToKeep(all, { keepLast: 1 }))).toEqual(['a2s15']);
  });

  it('only shrinks when a checkpoint is added, so older GC decisions stay valid', () => {
    const policy = { keepLast: 2, keepBest: { metric: 'loss', mode: 'min' as const, count: 1 }, keepEvery: 30 };
    const before = candidates([10, 20, 30, 40], { 10: 0.4, 20: 0.2, 30: 0.3, 40: 0.5 });
    const after = [...before, ...candidates([50], { 50: 0.1 })];
    const keptBefore = checkpointsToKeep(before, policy);
    for (const id of checkpointsToKeep(after, policy)) expect(keptBefore.has(id) || id === 'a1s50').toBe(true);
  });
});

describe('bestBy', () => {
  it('picks the best finite value and prefers the newer checkpoint on ties', () => {
    const all = candidates([10, 20, 30], { 10: 0.2, 20: 0.2, 30: 'NaN' });
    expect(bestBy(all, 'loss', 'min')?.id).toBe('a1s20');
    expect(bestBy(all, 'missing', 'min')).toBeUndefined();
  });
});
