import { EvaluationCaseResult, EvaluationSummary, MetricStats } from '@hounsfield/contracts';

/** Mean, population standard deviation, median (mean of the middle two for an even count), min, max. */
export function metricStats(values: number[]): MetricStats {
  const count = values.length;
  if (count === 0) return { count: 0, mean: 0, std: 0, median: 0, min: 0, max: 0 };
  const mean = values.reduce((sum, v) => sum + v, 0) / count;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / count;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(count / 2);
  const median = count % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { count, mean, std: Math.sqrt(variance), median, min: sorted[0], max: sorted[count - 1] };
}

function metricsOf(results: EvaluationCaseResult[]): Record<string, MetricStats> {
  const names = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))].sort();
  return Object.fromEntries(
    names.map((name) => [name, metricStats(results.flatMap((r) => (name in r.metrics ? [r.metrics[name]] : [])))]),
  );
}

/** Statistics of every metric over all cases and per defect class (one result per case). */
export function aggregate(results: EvaluationCaseResult[]): EvaluationSummary {
  const classes = [...new Set(results.map((r) => r.defectClass))].sort();
  return {
    cases: results.length,
    fallbacks: results.filter((r) => r.fallback).length,
    overall: metricsOf(results),
    byDefectClass: Object.fromEntries(
      classes.map((defectClass) => {
        const ofClass = results.filter((r) => r.defectClass === defectClass);
        return [defectClass, { cases: ofClass.length, metrics: metricsOf(ofClass) }];
      }),
    ),
  };
}
