import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { ObjectEntry, ObjectStore } from '../src';
import { StorageError, StorageErrorCode } from '../src';
import { bodyOf, failingStream, patternSha256, patternStream, readAll, sha256Hex, sha256Of } from './byte-streams';

const MiB = 1024 * 1024;

async function collect(entries: AsyncIterable<ObjectEntry>): Promise<ObjectEntry[]> {
  const out: ObjectEntry[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
}

async function codeOf(operation: Promise<unknown>): Promise<StorageErrorCode | string> {
  try {
    await operation;
    return 'resolved';
  } catch (error) {
    return error instanceof StorageError ? error.code : `not a StorageError: ${String(error)}`;
  }
}

/**
 * The contract every ObjectStore driver keeps. `store()` returns the driver under test (set up in
 * the caller's beforeAll); every test works under its own random prefix so tests never see each other.
 */
export function describeObjectStoreBehaviour(store: () => ObjectStore): void {
  const fresh = (): string => `t-${randomUUID()}/`;

  describe('put and get', () => {
    it('round-trips a multi-MB stream and reports its size and sha256', async () => {
      const key = `${fresh()}ckpt/model.safetensors`;
      const size = 12 * MiB + 12345; // several multipart parts plus a short tail on s3
      const expected = patternSha256(size, 42);

      const put = await store().put(key, patternStream(size, 42), { contentType: 'application/octet-stream' });

      expect(put).toEqual({ size, sha256: expected });
      expect(await sha256Of(await store().get(key))).toEqual({ size, sha256: expected });
      expect(await store().sha256(key)).toBe(expected);
      expect((await store().stat(key))?.size).toBe(size);
    });

    it('accepts a matching declared size and stores an empty object', async () => {
      const prefix = fresh();
      expect(await store().put(`${prefix}meta.json`, bodyOf('{"step":100}'), { size: 12 })).toEqual({
        size: 12,
        sha256: sha256Hex('{"step":100}'),
      });
      expect(await store().put(`${prefix}empty`, bodyOf(''))).toEqual({ size: 0, sha256: sha256Hex('') });
      expect((await readAll(await store().get(`${prefix}empty`))).length).toBe(0);
    });

    it('replaces an existing object', async () => {
      const key = `${fresh()}latest`;
      await store().put(key, bodyOf('step-100'));
      await store().put(key, bodyOf('step-200'));
      expect((await readAll(await store().get(key))).toString()).toBe('step-200');
    });

    it('keeps keys with spaces and non-ASCII characters intact', async () => {
      const key = `${fresh()}Schädel defekt/fall 01 ü.nrrd`;
      await store().put(key, bodyOf('voxels'));
      expect((await readAll(await store().get(key))).toString()).toBe('voxels');
      expect((await collect(store().list(key))).map((e) => e.key)).toEqual([key]);
    });

    it('reads byte ranges, and refuses a range that starts past the end', async () => {
      const key = `${fresh()}digits`;
      await store().put(key, bodyOf('0123456789'));
      expect((await readAll(await store().get(key, { offset: 3, length: 4 }))).toString()).toBe('3456');
      expect((await readAll(await store().get(key, { offset: 7 }))).toString()).toBe('789');
      expect((await readAll(await store().get(key, { offset: 8, length: 100 }))).toString()).toBe('89');
      expect(await codeOf(store().get(key, { offset: 10 }))).toBe(StorageErrorCode.InvalidArgument);
      expect(await codeOf(store().get(key, { offset: -1 }))).toBe(StorageErrorCode.InvalidArgument);
      expect(await codeOf(store().get(key, { offset: 0, length: 0 }))).toBe(StorageErrorCode.InvalidArgument);
    });
  });

  describe('a put that fails midway', () => {
    it('leaves no visible object when the body stream errors', async () => {
      const prefix = fresh();
      const key = `${prefix}ckpt/optimizer.pt`;

      const error = await store().put(key, failingStream(6 * MiB + 100)).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe(StorageErrorCode.Io);
      expect((error as StorageError).message).toContain('connection reset by peer');
      expect(await store().stat(key)).toBeUndefined();
      expect(await collect(store().list(prefix))).toEqual([]);
      expect(await codeOf(store().get(key))).toBe(StorageErrorCode.NotFound);
    });

    it('keeps the previous object when its replacement fails', async () => {
      const key = `${fresh()}latest`;
      await store().put(key, bodyOf('step-100'));
      await expect(store().put(key, failingStream(1000))).rejects.toThrow(StorageError);
      expect((await readAll(await store().get(key))).toString()).toBe('step-100');
    });

    it('fails, leaving nothing, when the body is shorter or longer than the declared size', async () => {
      const prefix = fresh();
      expect(await codeOf(store().put(`${prefix}short`, bodyOf('abc'), { size: 4 }))).toBe(StorageErrorCode.Io);
      expect(await codeOf(store().put(`${prefix}long`, bodyOf('abcde'), { size: 4 }))).toBe(StorageErrorCode.Io);
      expect(await collect(store().list(prefix))).toEqual([]);
    });
  });

  describe('stat, list, delete', () => {
    it('lists recursively, sorted by key, with string-prefix semantics', async () => {
      const prefix = fresh();
      const keys = ['job-1/step-2/model', 'job-1/step-10/model', 'job-1/meta.json', 'job-1-old', 'job-10/model', 'job-2/a/b/c'];
      for (const key of keys) await store().put(`${prefix}${key}`, bodyOf(key));

      const all = await collect(store().list(prefix));
      expect(all.map((e) => e.key.slice(prefix.length))).toEqual([
        'job-1-old',
        'job-1/meta.json',
        'job-1/step-10/model',
        'job-1/step-2/model',
        'job-10/model',
        'job-2/a/b/c',
      ]);
      expect(all.every((e) => e.size === Buffer.byteLength(e.key.slice(prefix.length)))).toBe(true);
      expect(all.every((e) => e.lastModified instanceof Date && !Number.isNaN(e.lastModified.getTime()))).toBe(true);

      const job1 = await collect(store().list(`${prefix}job-1`));
      expect(job1.map((e) => e.key.slice(prefix.length))).toEqual([
        'job-1-old',
        'job-1/meta.json',
        'job-1/step-10/model',
        'job-1/step-2/model',
        'job-10/model',
      ]);
      const job1Dir = await collect(store().list(`${prefix}job-1/`));
      expect(job1Dir.map((e) => e.key.slice(prefix.length))).toEqual(['job-1/meta.json', 'job-1/step-10/model', 'job-1/step-2/model']);
      expect(await collect(store().list(`${prefix}nothing-here/`))).toEqual([]);
    });

    it('stats an object, and reports undefined for a missing key or a mere prefix', async () => {
      const prefix = fresh();
      const before = Date.now();
      await store().put(`${prefix}dir/file`, bodyOf('12345'));
      const stat = await store().stat(`${prefix}dir/file`);
      expect(stat?.size).toBe(5);
      // Second-resolution clocks (S3) may round down, hence the slack.
      expect(stat!.lastModified.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect(await store().stat(`${prefix}dir`)).toBeUndefined();
      expect(await store().stat(`${prefix}missing`)).toBeUndefined();
    });

    it('deletes one object, and deleting a missing one is not an error', async () => {
      const prefix = fresh();
      await store().put(`${prefix}a/keep`, bodyOf('keep'));
      await store().put(`${prefix}a/drop`, bodyOf('drop'));
      await store().delete(`${prefix}a/drop`);
      await store().delete(`${prefix}a/drop`);
      await store().delete(`${prefix}never-existed`);
      expect(await store().stat(`${prefix}a/drop`)).toBeUndefined();
      expect((await collect(store().list(prefix))).map((e) => e.key)).toEqual([`${prefix}a/keep`]);
    });

    it('deletes everything under a prefix and nothing else', async () => {
      const prefix = fresh();
      for (const key of ['run/1/a', 'run/1/b/c', 'run/2/a', 'run/10/a', 'other']) await store().put(`${prefix}${key}`, bodyOf(key));

      expect(await store().deletePrefix(`${prefix}run/1/`)).toBe(2);

      expect((await collect(store().list(prefix))).map((e) => e.key.slice(prefix.length))).toEqual(['other', 'run/10/a', 'run/2/a']);
      expect(await store().deletePrefix(`${prefix}run/1/`)).toBe(0);
      expect(await codeOf(store().deletePrefix(''))).toBe(StorageErrorCode.InvalidKey);
    });
  });

  describe('missing objects', () => {
    it('reports NotFound from get and sha256', async () => {
      const key = `${fresh()}missing`;
      expect(await codeOf(store().get(key))).toBe(StorageErrorCode.NotFound);
      expect(await codeOf(store().get(key, { offset: 1 }))).toBe(StorageErrorCode.NotFound);
      expect(await codeOf(store().sha256(key))).toBe(StorageErrorCode.NotFound);
      const error = await store().get(key).catch((e: unknown) => e);
      expect((error as StorageError).key).toBe(key);
    });
  });

  describe('keys', () => {
    const escaping = ['../outside', 'a/../../outside', '/etc/passwd', 'a\\..\\b', 'a\0b', 'a//b', './a', 'a/.', 'a/', ''];

    it.each(escaping)('rejects %j with InvalidKey on every operation', async (key) => {
      expect(await codeOf(store().put(key, bodyOf('x')))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().get(key))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().stat(key))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().delete(key))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().sha256(key))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().presignPut(key, 60))).toBe(StorageErrorCode.InvalidKey);
      expect(await codeOf(store().presignGet(key, 60))).toBe(StorageErrorCode.InvalidKey);
    });

    it('rejects prefixes that escape the root', async () => {
      for (const prefix of ['../', '/abs', 'a/../', 'a\\b']) {
        expect(await codeOf(collect(store().list(prefix)))).toBe(StorageErrorCode.InvalidKey);
        expect(await codeOf(store().deletePrefix(prefix))).toBe(StorageErrorCode.InvalidKey);
      }
    });

    it('rejects grant expiries outside 1 s to 7 days', async () => {
      const key = `${fresh()}x`;
      for (const expiry of [0, -5, 1.5, 7 * 24 * 3600 + 1]) {
        expect(await codeOf(store().presignPut(key, expiry))).toBe(StorageErrorCode.InvalidArgument);
      }
    });
  });
}
