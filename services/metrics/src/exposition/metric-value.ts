import { MetricValue } from '@hounsfield/contracts';

/** A reported metric as a number; the NaN and ±Infinity markers of the wire format become the IEEE values. */
export function numericValue(value: MetricValue): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  return value === 'Infinity' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}
