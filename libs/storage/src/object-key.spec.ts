import { describe, expect, it } from '@jest/globals';
import { assertValidKey, assertValidPrefix, compareKeys } from './object-key';
import { StorageError, StorageErrorCode } from './storage.errors';

function whyRejected(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe(StorageErrorCode.InvalidKey);
    return (error as StorageError).message;
  }
}

describe('object keys', () => {
  it.each(['a', 'checkpoints/job-1/step-100/model.safetensors', '.hidden/..dots/a..b', 'Schädel/fall 01.nrrd', 'a'.repeat(255)])(
    'accepts %j',
    (key) => expect(whyRejected(() => assertValidKey(key))).toBeUndefined(),
  );

  it.each([
    ['../x', 'escape'],
    ['a/../../x', 'escape'],
    ['/etc/passwd', 'absolute'],
    ['a\\b', 'backslash'],
    ['a\0b', 'NUL'],
    ['a\nb', 'control'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['', 'empty'],
    ['a/.', 'escape'],
    ['x/.1234.hf-tmp', 'reserved'],
    ['a'.repeat(256), 'segment longer'],
    [`${'a/'.repeat(512)}b`, 'longer than 1024'],
  ])('rejects %j, saying why (%s)', (key, reason) => {
    expect(whyRejected(() => assertValidKey(key))).toContain(reason);
  });

  it('accepts partial prefixes but rejects escaping ones', () => {
    for (const prefix of ['', 'ckpt/', 'ckpt/job-1', 'ckpt/..partial', 'ckpt/.']) {
      expect(whyRejected(() => assertValidPrefix(prefix))).toBeUndefined();
    }
    for (const prefix of ['../', 'a/../', '/a', 'a\\b', 'a\0', 'a//']) {
      expect(whyRejected(() => assertValidPrefix(prefix))).toBeDefined();
    }
  });

  it('orders keys by UTF-8 bytes, as S3 lists them', () => {
    // U+FF5E (3 UTF-8 bytes, EF..) sorts before U+1F600 (4 bytes, F0..), the reverse of UTF-16 order.
    const keys = ['😀', '～', 'a/b', 'a-b'];
    expect([...keys].sort(compareKeys)).toEqual(['a-b', 'a/b', '～', '😀']);
  });
});
