import { describe, expect, it } from '@jest/globals';
import { decodeRecord, encodeReport, escapeName, unescapeName } from './series-record';

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

  it('escape every separator in names and restore them', () => {
    for (const name of ['plain', 'a;b', 'x=y', 'p,q', 'k|l', '100%', '%3B', 'two\nlines']) expect(unescapeName(escapeName(name))).toBe(name);
  });

  it('refuse anything else', () => {
    expect(() => decodeRecord('1|2')).toThrow(/malformed stored bucket/);
    expect(() => decodeRecord('1|2|3|4;loss=1,2')).toThrow(/malformed stored bucket/);
  });
});
