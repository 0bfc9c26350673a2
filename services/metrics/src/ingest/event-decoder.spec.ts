import { describe, expect, it } from '@jest/globals';
import { SCHEMA_VERSION } from '@hounsfield/contracts';
import { acceptFast, decodeEvent, metricsEventSchema } from './event-decoder';

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const heartbeat = { v: SCHEMA_VERSION, type: 'heartbeat', workerId: 'w', hostname: 'h', simulated: true, gpus: [], kinds: [], running: [], intervalSeconds: 5, at: '2026-01-01T00:00:00.000Z' };

describe('decodeEvent', () => {
  it('accepts a valid event', () => {
    expect(decodeEvent(bytes(heartbeat))).toMatchObject({ ok: true, event: { type: 'heartbeat', workerId: 'w' } });
  });

  it('tells broken JSON, another schema version and a wrong shape apart', () => {
    expect(decodeEvent(bytes('{"v":'))).toMatchObject({ ok: false, reason: 'malformed_json' });
    expect(decodeEvent(bytes({ ...heartbeat, v: 2 }))).toMatchObject({ ok: false, reason: 'unknown_version', detail: 'schema version 2; this service reads 1' });
    expect(decodeEvent(bytes({ ...heartbeat, gpus: 'none' }))).toMatchObject({ ok: false, reason: 'invalid_event' });
    expect(decodeEvent(bytes([1, 2]))).toMatchObject({ ok: false, reason: 'unknown_version' });
  });

  it('reads the evaluation service\'s events and refuses a case without numeric metrics', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const scored = { v: SCHEMA_VERSION, type: 'evaluation_case', evaluationId: 'ev-1', caseId: '000_bilateral', defectClass: 'bilateral', metrics: { DSC: 0.9, bDSC: 0.8, HD95: 1.5 }, fallback: false, seconds: 3, done: 1, total: 10, at };
    expect(decodeEvent(bytes(scored))).toMatchObject({ ok: true, event: { type: 'evaluation_case', caseId: '000_bilateral' } });
    expect(decodeEvent(bytes({ v: SCHEMA_VERSION, type: 'evaluation_failed', evaluationId: 'ev-1', reason: 'no case to evaluate', seconds: 1, at }))).toMatchObject({ ok: true });
    expect(decodeEvent(bytes({ ...scored, metrics: { DSC: 'high' } }))).toMatchObject({ ok: false, reason: 'invalid_event' });
    expect(decodeEvent(bytes({ ...scored, done: 0 }))).toMatchObject({ ok: false, reason: 'invalid_event' });
  });
});

describe('the compiled fast path for progress reports and heartbeats', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const progress = {
    v: SCHEMA_VERSION, type: 'progress', jobId: 'job-1', attempt: 2, workerId: 'node-1', seq: 7, step: 40, epoch: 0.5, totalSteps: 1000,
    metrics: { loss: 0.25, loss_kl: 'NaN', grad_norm: '-Infinity' }, lr: 1e-4, samplesPerSecond: 56, dataWaitSeconds: 0, stepSeconds: 0.2, at,
  };
  const gpu = { index: 0, uuid: 'GPU-0', name: 'H100', memoryTotalBytes: 80e9, memoryUsedBytes: 1e9, utilizationPercent: 70.5, temperatureCelsius: -5, powerWatts: 300, foreignProcesses: false };
  const heartbeat = {
    v: SCHEMA_VERSION, type: 'heartbeat', workerId: 'node-1', hostname: 'node-1.example', simulated: false, gpus: [gpu], kinds: [{ kind: 'pcdiff', version: '3' }],
    cpuSlots: 8, memoryTotalBytes: 2 ** 34, memoryAvailableBytes: 2 ** 33, running: [{ jobId: 'job-1', attempt: 1 }], intervalSeconds: 5, at,
  };
  const badValues: unknown[] = [undefined, null, true, 0, -1, 1.5, 2 ** 53, Infinity, Number.NaN, '', 'x', 'bad id!', 'a'.repeat(65), '😀'.repeat(129), '😀'.repeat(10), '😀'.repeat(40), {}, [], [1], 'NaN'];
  type Sample = Record<string, unknown>;
  const set = (base: Sample, path: (string | number)[], value: unknown): Sample => {
    const copy = structuredClone(base);
    let at: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
    const last = path[path.length - 1];
    if (value === undefined) delete at[last];
    else at[last] = value;
    return copy;
  };
  /** Every field (top level, nested objects and array items) set to every bad value, removed, and beside an unknown key. */
  function mutations(base: Sample): Sample[] {
    const out: Sample[] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      if (path.length) for (const bad of badValues) out.push(set(base, path, bad));
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, i]));
      else if (typeof value === 'object' && value !== null) {
        out.push(set(base, [...path, 'unexpected'], 1));
        for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
      }
    };
    walk(base, []);
    return out;
  }
  const metricNames = ['', 'a'.repeat(128), 'a'.repeat(129), '😀'.repeat(65), 'loss;term=1'];
  const valid: Sample[] = [
    progress,
    set(set(set(set(progress, ['epoch'], undefined), ['lr'], undefined), ['totalSteps'], undefined), ['metrics'], {}),
    heartbeat,
    set(set(set(heartbeat, ['kinds'], undefined), ['cpuSlots'], undefined), ['gpus', 0, 'powerWatts'], undefined),
    set(heartbeat, ['hostname'], ''),
  ];
  const samples: Sample[] = [
    ...valid,
    ...valid.flatMap(mutations),
    ...metricNames.map((name) => set(progress, ['metrics'], { [name]: 1 })),
    ...['nan', 'inf', '', null, true].map((value) => set(progress, ['metrics', 'loss'], value)),
  ];

  it('accepts every valid sample, exactly as zod returns it (defaults filled in)', () => {
    for (const sample of valid) {
      const expected = metricsEventSchema.parse(structuredClone(sample));
      expect(acceptFast(structuredClone(sample))).toEqual(expected);
    }
  });

  it(`agrees with zod on all ${samples.length} valid and invalid samples`, () => {
    let rejected = 0;
    for (const sample of samples) {
      const byZod = metricsEventSchema.safeParse(structuredClone(sample));
      const fast = acceptFast(structuredClone(sample));
      if (!byZod.success) rejected += 1;
      expect({ sample, accepted: fast !== undefined }).toEqual({ sample, accepted: byZod.success });
      if (fast) expect(fast).toEqual(byZod.data);
    }
    expect(rejected).toBeGreaterThan(samples.length / 2);
  });

  it('leaves other event types, and every refusal and its message, to zod', () => {
    const scored = { v: SCHEMA_VERSION, type: 'evaluation_case', evaluationId: 'ev-1', caseId: 'c', defectClass: 'bilateral', metrics: { DSC: 0.9 }, fallback: false, seconds: 3, done: 1, total: 10, at };
    expect(acceptFast(scored)).toBeUndefined();
    expect(decodeEvent(bytes({ ...progress, step: -1 }))).toEqual({ ok: false, reason: 'invalid_event', detail: expect.stringContaining('step') });
  });
});
