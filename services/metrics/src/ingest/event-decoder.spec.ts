import { describe, expect, it } from '@jest/globals';
import { SCHEMA_VERSION } from '@hounsfield/contracts';
import { decodeEvent } from './event-decoder';

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
