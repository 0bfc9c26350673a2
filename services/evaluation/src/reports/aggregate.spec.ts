import { describe, expect, it } from '@jest/globals';
import { EvaluationCaseResult } from '@hounsfield/contracts';
import { aggregate, metricStats } from './aggregate';

const result = (caseId: string, defectClass: string, dsc: number, hd95: number, fallback = false): EvaluationCaseResult => ({
  v: 1,
  evaluationId: 'ev-1',
  caseId,
  defectClass,
  metrics: { DSC: dsc, HD95: hd95 },
  fallback,
  seconds: 1,
  artifacts: [],
  finishedAt: '2025-01-01T00:00:00.000Z',
});

describe('aggregation of per-case results', () => {
  it('computes mean, population std, median, min and max like a direct loop', () => {
    expect(metricStats([1, 2, 3, 4])).toEqual({ count: 4, mean: 2.5, std: Math.sqrt(1.25), median: 2.5, min: 1, max: 4 });
    expect(metricStats([5, 1, 3])).toMatchObject({ median: 3, min: 1, max: 5 });
    expect(metricStats([])).toMatchObject({ count: 0, mean: 0 });
  });

  it('summarises overall and per defect class, counting fallbacks', () => {
    const summary = aggregate([
      result('a', 'bilateral', 0.5, 4),
      result('b', 'bilateral', 0.7, 2, true),
      result('c', 'frontoorbital', 0.9, 1),
    ]);
    expect(summary.cases).toBe(3);
    expect(summary.fallbacks).toBe(1);
    expect(summary.overall.DSC.mean).toBeCloseTo((0.5 + 0.7 + 0.9) / 3, 12);
    expect(summary.byDefectClass.bilateral).toMatchObject({ cases: 2 });
    expect(summary.byDefectClass.bilateral.metrics.HD95.mean).toBe(3);
    expect(Object.keys(summary.byDefectClass)).toEqual(['bilateral', 'frontoorbital']);
  });
});
