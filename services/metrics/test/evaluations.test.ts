import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  EvaluationCaseEvent,
  EvaluationEvent,
  EvaluationFailedEvent,
  EvaluationPlannedEvent,
  EvaluationSucceededEvent,
  SCHEMA_VERSION,
  SUBJECTS,
} from '@hounsfield/contracts';
import { promtoolCheckMetrics } from '@hounsfield/testing';
import { Sample, valueOf } from './exposition-text';
import { eventually, MetricsHarness, startMetricsHarness } from './metrics-harness';

const iso = (ms = Date.now()) => new Date(ms).toISOString();

const planned = (evaluationId: string, total: number): EvaluationPlannedEvent => ({ v: SCHEMA_VERSION, type: 'evaluation_planned', evaluationId, total, shards: 2, at: iso() });

const scored = (evaluationId: string, caseId: string, metrics: Record<string, number>, seconds: number, done: number, total: number, fallback = false): EvaluationCaseEvent => ({
  v: SCHEMA_VERSION,
  type: 'evaluation_case',
  evaluationId,
  caseId,
  defectClass: caseId.split('_')[1] ?? 'bilateral',
  metrics,
  fallback,
  seconds,
  done,
  total,
  at: iso(),
});

const succeeded = (evaluationId: string, cases: number, means: Record<string, number>, atMs = Date.now()): EvaluationSucceededEvent => ({
  v: SCHEMA_VERSION, type: 'evaluation_succeeded', evaluationId, cases, fallbacks: 0, means, seconds: 42, at: iso(atMs),
});

const failed = (evaluationId: string): EvaluationFailedEvent => ({ v: SCHEMA_VERSION, type: 'evaluation_failed', evaluationId, reason: 'no case to evaluate', seconds: 3, at: iso() });

/** Cumulative bucket counts of `values` at each `le` the exposition shows, as Prometheus defines them. */
function expectedBuckets(samples: Sample[], name: string, evaluationId: string, values: number[]): Record<string, number> {
  const bounds = samples.filter((s) => s.name === `${name}_bucket` && s.labels.evaluation_id === evaluationId).map((s) => s.labels.le);
  expect(bounds.length).toBeGreaterThan(5);
  return Object.fromEntries(bounds.map((le) => [le, values.filter((v) => le === '+Inf' || v <= Number(le)).length]));
}

function shownBuckets(samples: Sample[], name: string, evaluationId: string): Record<string, number> {
  return Object.fromEntries(samples.filter((s) => s.name === `${name}_bucket` && s.labels.evaluation_id === evaluationId).map((s) => [s.labels.le, s.value]));
}

describe('evaluation events, on real NATS and Redis', () => {
  let h: MetricsHarness;
  let before: Sample[];
  const publish = (event: EvaluationEvent) => h.publish(SUBJECTS.evaluationEvents(event.evaluationId), event);

  // What the shards scored: DSC and bDSC as ratios, HD95 in mm.
  const cases = [
    { caseId: '000_bilateral', metrics: { DSC: 0.91, bDSC: 0.88, HD95: 1.2 }, seconds: 12.5 },
    { caseId: '001_frontoorbital', metrics: { DSC: 0.72, bDSC: 0.64, HD95: 4.75 }, seconds: 30 },
    { caseId: '002_parietotemporal', metrics: { DSC: 0.97, bDSC: 0.955, HD95: 0.4 }, seconds: 7 },
    { caseId: '003_random_1', metrics: { DSC: 0.33, bDSC: 0.2, HD95: 18 }, seconds: 95 },
  ];

  beforeAll(async () => {
    // A short worker TTL makes housekeeping sweep every half second.
    h = await startMetricsHarness({ HOUNSFIELD_METRICS_WORKER_TTL_SECONDS: '2' });
    before = await h.scrape();
    await publish(planned('ev-a', cases.length));
    for (const [i, c] of cases.slice(0, 2).entries()) await publish(scored('ev-a', c.caseId, c.metrics, c.seconds, i + 1, cases.length));
    // Case 001 redelivered to another shard, scored again (other values) and published again.
    await publish(scored('ev-a', '001_frontoorbital', { DSC: 0.1, bDSC: 0.1, HD95: 80 }, 500, 2, cases.length));
    // Unreadable evaluation events: broken JSON, and a case with a metric that is not a number.
    await h.publishRaw(SUBJECTS.evaluationEvents('ev-a'), '{"v":1,"type":"evaluation_case"');
    await h.publish(SUBJECTS.evaluationEvents('ev-a'), { ...scored('ev-a', '002_parietotemporal', {}, 1, 3, cases.length), metrics: { DSC: 'high' } });
    for (const [i, c] of cases.slice(2).entries()) await publish(scored('ev-a', c.caseId, c.metrics, c.seconds, i + 3, cases.length, i === 1));
    await publish(failed('ev-b'));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('shows each evaluation\'s progress and counts every case once, a re-scored case included', async () => {
    const after = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_evaluations_total', { status: 'failed' }) === 1 ? s : undefined;
    });
    const delta = (name: string, labels: Record<string, string> = {}) => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(valueOf(after, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-a', state: 'done' })).toBe(4);
    expect(valueOf(after, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-a', state: 'total' })).toBe(4);
    expect(delta('hounsfield_evaluation_cases_total')).toBe(4);
    expect(delta('hounsfield_evaluation_case_fallbacks_total')).toBe(1);
    expect(delta('hounsfield_evaluations_total', { status: 'failed' })).toBe(1);
    expect(delta('hounsfield_evaluations_total', { status: 'succeeded' })).toBe(0);

    // Distributions of the first result of each case, in base units (HD95 in metres).
    const seconds = cases.map((c) => c.seconds);
    expect(delta('hounsfield_evaluation_case_duration_seconds_count')).toBe(4);
    expect(delta('hounsfield_evaluation_case_duration_seconds_sum')).toBeCloseTo(seconds.reduce((a, b) => a + b, 0), 9);
    for (const [metric, name, scale] of [
      ['DSC', 'hounsfield_evaluation_case_dice_ratio', 1],
      ['bDSC', 'hounsfield_evaluation_case_boundary_dice_ratio', 1],
      ['HD95', 'hounsfield_evaluation_case_hd95_meters', 0.001],
    ] as const) {
      const values = cases.map((c) => c.metrics[metric] * scale);
      expect([name, valueOf(after, `${name}_count`, { evaluation_id: 'ev-a' })]).toEqual([name, 4]);
      expect(valueOf(after, `${name}_sum`, { evaluation_id: 'ev-a' })).toBeCloseTo(values.reduce((a, b) => a + b, 0), 12);
      expect(shownBuckets(after, name, 'ev-a')).toEqual(expectedBuckets(after, name, 'ev-a', values));
    }
    // A failed evaluation that never planned a case has no progress series.
    expect(valueOf(after, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-b', state: 'done' })).toBeUndefined();
  });

  it('terminates malformed evaluation events and counts them as rejected', async () => {
    const after = await h.scrape();
    const delta = (reason: string) => (valueOf(after, 'hounsfield_events_rejected_total', { reason }) ?? 0) - (valueOf(before, 'hounsfield_events_rejected_total', { reason }) ?? 0);
    expect(delta('malformed_json')).toBe(1);
    expect(delta('invalid_event')).toBe(1);
    const info = await h.nats.jsm.consumers.info('HF_EVENTS', 'metrics');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_redelivered).toBe(0);
  });

  it('exposes a succeeded evaluation\'s means in base units, counted once however often it is announced', async () => {
    const means = { DSC: cases.reduce((a, c) => a + c.metrics.DSC, 0) / 4, bDSC: 0.66875, HD95: 6.0875 };
    await publish(succeeded('ev-a', 4, means));
    await publish(succeeded('ev-a', 4, means));
    const after = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_evaluation_mean_dice_ratio', { evaluation_id: 'ev-a' }) !== undefined ? s : undefined;
    });
    expect(valueOf(after, 'hounsfield_evaluation_mean_dice_ratio', { evaluation_id: 'ev-a' })).toBeCloseTo(means.DSC, 12);
    expect(valueOf(after, 'hounsfield_evaluation_mean_boundary_dice_ratio', { evaluation_id: 'ev-a' })).toBeCloseTo(0.66875, 12);
    expect(valueOf(after, 'hounsfield_evaluation_mean_hd95_meters', { evaluation_id: 'ev-a' })).toBeCloseTo(0.0060875, 12);
    expect(valueOf(after, 'hounsfield_evaluations_total', { status: 'succeeded' })).toBe(1);
    // Progress stays visible until the finished-evaluation TTL (an hour by default) has passed.
    expect(valueOf(after, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-a', state: 'done' })).toBe(4);
  });

  it('passes promtool check metrics with evaluation series present', async () => {
    const text = await h.scrapeText();
    expect(text).toContain('hounsfield_evaluation_case_hd95_meters_bucket{le="0.005",evaluation_id="ev-a"}');
    const result = promtoolCheckMetrics(text);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('removes an evaluation\'s series once the TTL has passed since it ended, and a late event does not bring them back', async () => {
    await publish(planned('ev-old', 2));
    await publish(scored('ev-old', '000_bilateral', { DSC: 0.8, bDSC: 0.7, HD95: 2 }, 10, 1, 2));
    await publish(scored('ev-old', '001_bilateral', { DSC: 0.8, bDSC: 0.7, HD95: 2 }, 10, 2, 2));
    await eventually(async () => valueOf(await h.scrape(), 'hounsfield_evaluation_case_dice_ratio_count', { evaluation_id: 'ev-old' }) === 2 || undefined);
    // It ended two hours ago (its events were read late): the next sweep removes it.
    await publish(succeeded('ev-old', 2, { DSC: 0.8 }, Date.now() - 2 * 3600_000));
    const gone = await eventually(async () => {
      const s = await h.scrape();
      return s.some((sample) => sample.labels.evaluation_id === 'ev-old') ? undefined : s;
    }, 15_000, 'series of the old evaluation removed');
    expect(valueOf(gone, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-a', state: 'done' })).toBe(4);
    await publish(scored('ev-old', '001_bilateral', { DSC: 0.8, bDSC: 0.7, HD95: 2 }, 10, 2, 2));
    await publish(planned('ev-marker', 1));
    const later = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_evaluation_cases', { evaluation_id: 'ev-marker', state: 'total' }) === 1 ? s : undefined;
    });
    expect(later.filter((sample) => sample.labels.evaluation_id === 'ev-old')).toEqual([]);
  });
});
