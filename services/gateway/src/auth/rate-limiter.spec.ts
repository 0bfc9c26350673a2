import { describe, expect, it } from '@jest/globals';
import { pageOf } from '../http/paging';
import { RateLimiter } from './rate-limiter';
import { sameDigest, tokenDigest, tokenIdOf } from './token-secret';

describe('per-token rate limit (token bucket)', () => {
  it('lets a burst through, then one request per 1/rate seconds, per key', () => {
    const limiter = new RateLimiter(2, 3);
    const t0 = 1_000_000;
    expect([limiter.take('a', t0), limiter.take('a', t0), limiter.take('a', t0)]).toEqual([0, 0, 0]);
    expect(limiter.take('a', t0)).toBeCloseTo(0.5, 6);
    expect(limiter.take('b', t0)).toBe(0);
    expect(limiter.take('a', t0 + 500)).toBe(0);
    expect(limiter.take('a', t0 + 500)).toBeGreaterThan(0);
  });
});

describe('token digests', () => {
  it('finds a token by an id derived from its digest and compares digests in full', () => {
    const digest = tokenDigest('hft_secret');
    expect(tokenIdOf(digest)).toMatch(/^tok_[0-9a-f]{16}$/);
    expect(sameDigest(digest, tokenDigest('hft_secret'))).toBe(true);
    expect(sameDigest(digest, tokenDigest('hft_secres'))).toBe(false);
    expect(sameDigest(digest, '')).toBe(false);
  });
});

describe('cursor paging of small lists', () => {
  it('pages in key order without repeats, and refuses a cursor it did not write', () => {
    const items = ['d', 'a', 'c', 'b', 'e'].map((name) => ({ name }));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = pageOf(items, (i) => i.name, 2, cursor);
      seen.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(() => pageOf(items, (i) => i.name, 2, 'bm90LWpzb24')).toThrow(/cursor/);
  });
});
