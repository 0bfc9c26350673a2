import { afterEach, describe, expect, it } from '@jest/globals';
import { StreamGarbage } from './stream-garbage';

const MiB = 1024 * 1024;
const scope = globalThis as { gc?: unknown };
const original = scope.gc;

describe('StreamGarbage', () => {
  afterEach(() => {
    scope.gc = original;
  });

  it('collects the young generation once per 8 MiB of finished chunks', () => {
    const calls: unknown[] = [];
    scope.gc = (options: unknown) => calls.push(options);
    const garbage = new StreamGarbage();
    for (let chunk = 0; chunk < 3 * 128; chunk += 1) garbage.done(64 * 1024); // 24 MiB in 64 KiB chunks
    expect(calls).toEqual([{ type: 'minor' }, { type: 'minor' }, { type: 'minor' }]); // at 8, 16 and 24 MiB
    garbage.done(7 * MiB);
    expect(calls).toHaveLength(3);
    garbage.done(MiB);
    expect(calls).toHaveLength(4);
  });

  it('does nothing when the process runs without --expose-gc', () => {
    scope.gc = undefined;
    expect(() => new StreamGarbage().done(64 * MiB)).not.toThrow();
  });
});
