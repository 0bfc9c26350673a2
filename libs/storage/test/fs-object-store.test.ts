import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { createObjectStore, FsObjectStore, StorageError, StorageErrorCode } from '../src';
import { bodyOf, failingStream, readAll } from './byte-streams';
import { describeObjectStoreBehaviour } from './object-store.behaviour';

/** Every file under `dir`, temporary ones included: what a reader on the shared filesystem could see. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('fs object store', () => {
  let root: string;
  let store: FsObjectStore;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'hf-storage-'));
    store = (await createObjectStore({ driver: 'fs', root: join(root, 'objects') })) as FsObjectStore;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describeObjectStoreBehaviour(() => store);

  it('scans an object through two reused buffers, piece after piece in order, and refuses a missing one', async () => {
    const bytes = randomBytes(2.5 * 1024 * 1024 + 7); // more than two pieces, the last one short
    await store.put('scan/part', bodyOf(bytes));
    const whole = createHash('sha256');
    const pieces: Buffer[] = [];
    const size = await store.scan('scan/part', (piece) => {
      whole.update(piece);
      pieces.push(piece);
    });
    expect(size).toBe(bytes.length);
    expect(whole.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(pieces.length).toBe(3);
    expect(new Set(pieces.map((p) => p.buffer)).size).toBe(2); // the same two buffers, in turn
    await expect(store.scan('scan/missing', () => undefined)).rejects.toMatchObject({ code: StorageErrorCode.NotFound });
  });

  it('leaves no temporary file behind when a put fails midway', async () => {
    const dir = 'atomic/ckpt';
    await expect(store.put(`${dir}/model.safetensors`, failingStream(3 * 1024 * 1024))).rejects.toThrow(StorageError);
    expect(await filesUnder(store.root).then((files) => files.filter((f) => f.startsWith('atomic')))).toEqual([]);
  });

  it('never lists an in-progress temporary file', async () => {
    await store.put('in-progress/done', bodyOf('done'));
    await writeFile(join(store.root, 'in-progress', '.0f1e2d3c.hf-tmp'), 'half');
    const keys: string[] = [];
    for await (const entry of store.list('in-progress/')) keys.push(entry.key);
    expect(keys).toEqual(['in-progress/done']);
  });

  it('grants the absolute file path, under the root, for put and get', async () => {
    const putGrant = await store.presignPut('grants/step-5/model.safetensors', 3600);
    expect(putGrant.kind).toBe('path');
    if (putGrant.kind !== 'path') return;
    expect(isAbsolute(putGrant.path)).toBe(true);
    expect(putGrant.path).toBe(join(store.root, 'grants', 'step-5', 'model.safetensors'));

    // The worker writes straight to the path (its parent already exists); the service then reads the object.
    await writeFile(putGrant.path, 'weights');
    expect((await readAll(await store.get('grants/step-5/model.safetensors'))).toString()).toBe('weights');

    const getGrant = await store.presignGet('grants/step-5/model.safetensors', 60);
    expect(getGrant).toEqual({ kind: 'path', path: putGrant.path });
    if (getGrant.kind === 'path') expect(await readFile(getGrant.path, 'utf8')).toBe('weights');
  });

  it('removes directories left empty by deletes, but never the root', async () => {
    await store.put('prune/a/b/c', bodyOf('x'));
    await store.deletePrefix('prune/');
    expect(await readdir(store.root)).not.toContain('prune');
    await store.put('only', bodyOf('x'));
    await store.delete('only');
    expect(await readdir(store.root)).toBeDefined();
  });

  it('refuses a key that clashes with an object used as a directory, and the reverse', async () => {
    await store.put('clash/a', bodyOf('file'));
    await expect(store.put('clash/a/b', bodyOf('x'))).rejects.toMatchObject({ code: StorageErrorCode.InvalidKey });
    await store.put('clash/d/e', bodyOf('file'));
    await expect(store.put('clash/d', bodyOf('x'))).rejects.toMatchObject({ code: StorageErrorCode.InvalidKey });
  });

  it('rejects keys that use the reserved temporary-file suffix', async () => {
    await expect(store.put('x/.abc.hf-tmp', bodyOf('x'))).rejects.toMatchObject({ code: StorageErrorCode.InvalidKey });
  });
});
