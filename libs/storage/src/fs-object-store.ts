import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { assertValidKey, assertValidPrefix, compareKeys, isValidSegment, RESERVED_SUFFIX } from './object-key';
import { assertByteRange, assertDeclaredSize, grantExpiry, rangeNotSatisfiable } from './object-request';
import type { AccessGrant, ByteRange, ObjectEntry, ObjectStat, ObjectStore, PutOptions, PutResult } from './object-store';
import { StorageError } from './storage.errors';
import { digested, digestStream, StreamDigest } from './stream-digest';

/** How often a put retries when a concurrent delete removes the directory it just created. */
const MKDIR_ATTEMPTS = 5;

/** The size of each of the two buffers a `scan` reads through. */
const SCAN_BUFFER_BYTES = 1024 * 1024;

/**
 * Objects as files under a root directory: a shared filesystem (NFS) that the services and the
 * GPU workers all mount, or a local directory for the embedded single-machine stack.
 *
 * Key `a/b/c` is the file `<root>/a/b/c`. Writes go to a temporary file in the target's directory
 * (`.<uuid>.hf-tmp`, hidden from listings) and are renamed over the target once complete and
 * flushed, so a reader sees the old object or the new one, never a part. Directories appear as
 * keys need them and disappear when their last object is deleted. A key cannot be both an
 * object and a "directory" of other keys here (`a` and `a/b`), unlike S3: that put fails with
 * InvalidKey.
 */
export class FsObjectStore implements ObjectStore {
  readonly driver = 'fs' as const;
  /** Absolute, so path grants are absolute too. */
  readonly root: string;
  /** `root` with a trailing separator: every object path starts with it (also when root is `/`). */
  private readonly rootPrefix: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.rootPrefix = this.root.endsWith(sep) ? this.root : this.root + sep;
  }

  /** Creates the root directory if it is missing. */
  async ensureRoot(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (error) {
      throw StorageError.io(`cannot create the storage root ${this.root}`, undefined, error);
    }
  }

  /** The absolute file path of `key` (after checking the key cannot leave the root). */
  pathOf(key: string): string {
    assertValidKey(key);
    const path = join(this.root, ...key.split('/'));
    // The key rules already exclude every escape; this guards against a rule being loosened later.
    if (!path.startsWith(this.rootPrefix)) throw StorageError.invalidKey(key, 'resolves outside the store root');
    return path;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const path = this.pathOf(key);
    assertDeclaredSize(key, options.size);
    const { handle, tempPath } = await this.openTemp(key, dirname(path));
    const digest = new StreamDigest();
    try {
      for await (const chunk of digested(key, body, digest, options.size)) await writeFully(handle, chunk);
      // Flush before the rename: otherwise a crash can leave the new name pointing at missing data.
      await handle.sync();
      await handle.close();
      await rename(tempPath, path);
    } catch (error) {
      body.destroy();
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw this.writeError(key, error);
    }
    return { size: digest.size, sha256: digest.sha256() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    if (range) assertByteRange(key, range);
    const handle = await this.openForRead(key, path);
    try {
      const { size } = await handle.stat();
      if (!range) return handle.createReadStream();
      // As on S3, only "the whole object" may start at the end (of an empty object).
      if (range.offset >= size && !(range.offset === 0 && range.length === undefined)) {
        throw rangeNotSatisfiable(key, range, size);
      }
      const end = range.length === undefined ? undefined : range.offset + range.length - 1;
      return handle.createReadStream({ start: range.offset, end });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error instanceof StorageError ? error : StorageError.io(`cannot read ${key}`, key, error);
    }
  }

  async scan(key: string, visit: (piece: Buffer) => void): Promise<number> {
    const handle = await this.openForRead(key, this.pathOf(key));
    // Two buffers: the next piece is read (on libuv's thread pool) while `visit` takes this one.
    const buffers = [Buffer.allocUnsafeSlow(SCAN_BUFFER_BYTES), Buffer.allocUnsafeSlow(SCAN_BUFFER_BYTES)];
    let size = 0;
    let which = 0;
    let next = handle.read(buffers[0], 0, SCAN_BUFFER_BYTES, 0);
    try {
      for (;;) {
        const { bytesRead } = await next;
        if (bytesRead === 0) return size;
        const piece = buffers[which].subarray(0, bytesRead);
        which = 1 - which;
        next = handle.read(buffers[which], 0, SCAN_BUFFER_BYTES, size + bytesRead);
        visit(piece);
        size += bytesRead;
      }
    } catch (error) {
      throw error instanceof StorageError ? error : StorageError.io(`cannot read ${key}`, key, error);
    } finally {
      await next.catch(() => undefined); // never close the handle under a read in flight
      await handle.close().catch(() => undefined);
    }
  }

  async stat(key: string): Promise<ObjectStat | undefined> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size, lastModified: new Date(info.mtimeMs) } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw StorageError.io(`cannot stat ${key}`, key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectEntry> {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    // `a/b/c` lists the entries of directory `a/b` whose names start with `c`.
    yield* this.walk(slash < 0 ? '' : prefix.slice(0, slash), prefix.slice(slash + 1));
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      // A directory is not an object, so there is nothing to delete under that key.
      if (isMissing(error) || hasCode(error, 'EISDIR', 'EPERM')) return;
      throw StorageError.io(`cannot delete ${key}`, key, error);
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw StorageError.invalidKey(prefix, 'refusing to delete every object; give a prefix');
    let deleted = 0;
    // The walk reads one directory at a time, so deleting behind it is safe.
    for await (const entry of this.list(prefix)) {
      await this.delete(entry.key);
      deleted += 1;
    }
    return deleted;
  }

  async sha256(key: string): Promise<string> {
    const body = await this.get(key);
    try {
      return (await digestStream(key, body)).sha256;
    } catch (error) {
      throw error instanceof StorageError ? error : StorageError.io(`cannot read ${key}`, key, error);
    }
  }

  /** The file path itself: the worker shares the filesystem. The parent directory is created so the writer can start at once. */
  async presignPut(key: string, expirySeconds: number): Promise<AccessGrant> {
    const path = this.pathOf(key);
    grantExpiry(key, expirySeconds);
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      throw this.writeError(key, error);
    }
    return { kind: 'path', path };
  }

  /** The file path itself; like a presigned URL, the grant does not check that the object exists. */
  async presignGet(key: string, expirySeconds: number): Promise<AccessGrant> {
    const path = this.pathOf(key);
    grantExpiry(key, expirySeconds);
    return { kind: 'path', path };
  }

  private async openTemp(key: string, dir: string): Promise<{ handle: FileHandle; tempPath: string }> {
    const tempPath = join(dir, `.${randomUUID()}${RESERVED_SUFFIX}`);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await mkdir(dir, { recursive: true });
        return { handle: await open(tempPath, 'wx'), tempPath };
      } catch (error) {
        // A concurrent delete may prune the directory between mkdir and open: make it again.
        if (hasCode(error, 'ENOENT') && attempt < MKDIR_ATTEMPTS) continue;
        throw this.writeError(key, error);
      }
    }
  }

  private async openForRead(key: string, path: string): Promise<FileHandle> {
    try {
      const handle = await open(path, 'r');
      // Opening a directory succeeds on Linux; it is not an object.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw StorageError.notFound(key);
      }
      return handle;
    } catch (error) {
      if (error instanceof StorageError) throw error;
      if (isMissing(error) || hasCode(error, 'EISDIR')) throw StorageError.notFound(key);
      throw StorageError.io(`cannot open ${key}`, key, error);
    }
  }

  private writeError(key: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    // `a/b` where `a` is a file (ENOTDIR, EEXIST from mkdir), or `a` where `a/` holds objects (EISDIR, ENOTEMPTY).
    if (hasCode(error, 'ENOTDIR', 'EEXIST', 'EISDIR', 'ENOTEMPTY')) {
      return StorageError.invalidKey(key, 'clashes with an existing object or prefix (the fs store cannot hold both `a` and `a/b`)');
    }
    return StorageError.io(`cannot write ${key}`, key, error);
  }

  /** Removes directories left empty by a delete, up to (not including) the root. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.rootPrefix); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (ENOTEMPTY/EEXIST), already gone, or busy: the tree stays valid either way
      }
    }
  }

  private async *walk(dirKey: string, namePrefix: string): AsyncGenerator<ObjectEntry> {
    const dirPath = dirKey === '' ? this.root : join(this.root, ...dirKey.split('/'));
    let entries: Dirent[];
    try {
      entries = await readdir(dirPath, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw StorageError.io(`cannot list ${dirKey || 'the store root'}`, dirKey, error);
    }
    // A directory sorts as `name/`: every key below it starts with that, so the walk yields keys in order.
    const visible = entries
      .filter((e) => (e.isFile() || e.isDirectory()) && e.name.startsWith(namePrefix) && isValidSegment(e.name))
      .map((e) => ({ name: e.name, isDirectory: e.isDirectory(), sortName: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareKeys(a.sortName, b.sortName));
    for (const entry of visible) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory) {
        yield* this.walk(key, '');
        continue;
      }
      const info = await stat(join(dirPath, entry.name)).catch((error: unknown) => {
        if (isMissing(error)) return undefined; // deleted since readdir
        throw StorageError.io(`cannot stat ${key}`, key, error);
      });
      if (info?.isFile()) yield { key, size: info.size, lastModified: new Date(info.mtimeMs) };
    }
  }
}

/** FileHandle.write may write fewer bytes than asked; loop until the chunk is on disk. */
async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let written = 0; written < chunk.length; ) {
    written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
  }
}

function hasCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes(String((error as { code?: unknown }).code));
}

function isMissing(error: unknown): boolean {
  return hasCode(error, 'ENOENT', 'ENOTDIR');
}
