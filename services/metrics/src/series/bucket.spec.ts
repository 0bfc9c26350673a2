import { describe, expect, it } from '@jest/globals';
import { compactBuckets, decodeRecord, encodeReport, escapeName, unescapeName } from './series-record';

describe('stored buckets', () => {
  it('read a single report as a point of count one per series, NaN counted apart', () => {
    const raw = encodeReport(2, 7, 40, Date.UTC(2026, 0, 1), [['loss', 0.25], [escapeName('val;loss=a,b|c%'), Number.NaN]]);
    expect(raw).toBe('2|7|40|1767225600000;loss=0.25;val%3Bloss%3Da%2Cb%7Cc%25=');
    const points = decodeRecord(raw);
    expect(points.get('loss')).toEqual({ attempt: 2, step: 40, at: '2026-01-01T00:00:00.000Z', value: 0.25, min: 0.25, max: 0.25, count: 1, nonFinite: 0 });
    expect(points.get('val;loss=a,b|c%')).toMatchObject({ value: null, min: null, max: null, count: 1, nonFinite: 1 });
  });

  it('read merged reports as the mean of the finite values', () => {
    // sum 6 over 3 finite of 4 reports (1 NaN), min 1, max 3.
    expect(decodeRecord('1|9|40|0;loss=6,1,3,4,1').get('loss')).toMatchObject({ step: 40, value: 2, min: 1, max: 3, count: 4, nonFinite: 1 });
    expect(decodeRecord('1|9|3|0;loss=0,,,2,2').get('loss')).toMatchObject({ value: null, min: null, max: null, nonFinite: 2 });
  });

  it('combine the lines of the open bucket in order, a later attempt replacing an earlier one', () => {
    expect(decodeRecord('1|1|1|0;loss=1\n1|2|2|5;loss=3;lr=0.1').get('loss')).toMatchObject({ step: 2, value: 2, min: 1, max: 3, count: 2, at: '1970-01-01T00:00:00.005Z' });
    expect(decodeRecord('1|1|1|0;loss=1\n1|2|2|5;loss=3;lr=0.1').get('lr')).toMatchObject({ value: 0.1, count: 1 });
    expect(decodeRecord('1|9|40|0;loss=6,1,3,3,0\n1|10|41|0;loss=').get('loss')).toMatchObject({ step: 41, value: 2, count: 4, nonFinite: 1 });
    expect(decodeRecord('1|5|5|0;loss=9\n2|6|5|0;loss=1').get('loss')).toMatchObject({ attempt: 2, value: 1, count: 1 });
  });

  it('compact neighbours until the budget holds, each point the aggregate of its steps', () => {
    // Steps 0..7 with loss = step (stride 1), one NaN at step 5; budget 2 → stride 4.
    const stored: Record<string, string> = { _stride: '1', _seq: '1:7', _last: '7' };
    for (let step = 0; step < 8; step += 1) stored[String(step)] = encodeReport(1, step, step, step, [['loss', step === 5 ? Number.NaN : step]]);
    const { stride, last, buckets } = compactBuckets(stored, 2);
    expect([stride, last, buckets.map(([b]) => b)]).toEqual([4, 1, ['0', '1']]);
    // Reference by hand: steps 0-3 → sum 6 over 4; steps 4-7 → 4+6+7 = 17 over 3 finite of 4.
    expect(decodeRecord(buckets[0][1]).get('loss')).toMatchObject({ step: 3, value: 1.5, min: 0, max: 3, count: 4, nonFinite: 0 });
    expect(decodeRecord(buckets[1][1]).get('loss')).toMatchObject({ step: 7, value: 17 / 3, min: 4, max: 7, count: 4, nonFinite: 1 });
  });

  it('merge stored text as the parsed lines would: merged forms, values never finite, series in another order', () => {
    const stored = {
      _stride: '2',
      // Steps 0-1 merged (loss 1 and 3), step 2-3 merged (loss NaN twice), both with lr.
      '0': '1|1|1|10;loss=4,1,3,2,0;lr=0.5,0.25,0.25,2,0',
      '1': '1|3|3|30;loss=0,,,2,2;lr=0.5,0.25,0.25,2,0',
      // Another order of the same series, then a series only one side has.
      '2': '1|4|4|40;lr=0.25;loss=7',
      '3': '1|6|6|60;loss=-1;lr=1;extra=2',
    };
    const { stride, buckets } = compactBuckets(stored, 2);
    expect(stride).toBe(4);
    const first = decodeRecord(buckets[0][1]);
    expect(first.get('loss')).toMatchObject({ step: 3, value: 2, min: 1, max: 3, count: 4, nonFinite: 2, at: '1970-01-01T00:00:00.030Z' });
    expect(first.get('lr')).toMatchObject({ value: 0.25, min: 0.25, max: 0.25, count: 4 });
    const second = decodeRecord(buckets[1][1]);
    expect(second.get('loss')).toMatchObject({ step: 6, value: 3, min: -1, max: 7, count: 2, nonFinite: 0 });
    expect(second.get('lr')).toMatchObject({ value: 0.625, min: 0.25, max: 1, count: 2 });
    expect(second.get('extra')).toMatchObject({ value: 2, count: 1 });
  });

  it('keep a later attempt over an earlier one when buckets merge', () => {
    const stored = { _stride: '1', '0': encodeReport(1, 0, 0, 0, [['loss', 5]]), '1': encodeReport(2, 1, 1, 1, [['loss', 1]]) };
    const { buckets } = compactBuckets(stored, 1);
    expect(decodeRecord(buckets[0][1]).get('loss')).toMatchObject({ attempt: 2, value: 1, count: 1 });
  });

  it('escape every separator in names and restore them', () => {
    for (const name of ['plain', 'a;b', 'x=y', 'p,q', 'k|l', '100%', '%3B', 'two\nlines']) expect(unescapeName(escapeName(name))).toBe(name);
  });

  it('refuse anything else', () => {
    expect(() => decodeRecord('1|2')).toThrow(/malformed stored bucket/);
    expect(() => decodeRecord('1|2|3|4;loss=1,2')).toThrow(/malformed stored bucket/);
  });
});
