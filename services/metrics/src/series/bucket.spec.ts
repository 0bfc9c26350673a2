import { describe, expect, it } from '@jest/globals';
import { decodeBucket } from './series.repository';

describe('stored buckets', () => {
  it('average the finite values and count the others apart', () => {
    // attempt 2, last step 40, time, sum 6 over 3 finite of 4 reports (1 NaN), min 1, max 3.
    expect(decodeBucket('2|40|1767225600000|6|1|3|4|1')).toEqual({
      attempt: 2, step: 40, at: '2026-01-01T00:00:00.000Z', value: 2, min: 1, max: 3, count: 4, nonFinite: 1,
    });
  });

  it('have no value when nothing in them was finite', () => {
    expect(decodeBucket('1|3|0|0|||2|2')).toMatchObject({ value: null, min: null, max: null, count: 2, nonFinite: 2 });
  });

  it('refuse anything else', () => {
    expect(() => decodeBucket('1|2')).toThrow(/malformed stored bucket/);
  });
});
