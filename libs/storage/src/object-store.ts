import type { Readable } from 'node:stream';

/**
 * Bytes by key: checkpoints, reports, logs, evaluation artefacts. Keys are `/`-separated paths
 * (`checkpoints/job-1/step-100/model.safetensors`); the rules are in `object-key.ts` and are the same
 * for every driver, so a key that works on the shared filesystem works on S3 and back.
 *
 * Everything streams: no operation holds a whole object in memory (checkpoints can be many GB).
 */
export interface ObjectStore {
  readonly driver: StorageDriver;

  /**
   * Writes `body` under `key`, replacing any previous object only once the new one is complete:
   * a body that errors midway (or a store that fails) leaves the previous object, or none, visible.
   * The sha256 is computed while streaming.
   */
  put(key: string, body: Readable, options?: PutOptions): Promise<PutResult>;

  /**
   * Reads the object, or the bytes of `range`. Throws NotFound when the object does not exist;
   * a failure after that (disk, network) arrives as an error event on the returned stream.
   */
  get(key: string, range?: ByteRange): Promise<Readable>;

  /** Size and modification time, or undefined when there is no object under `key`. */
  stat(key: string): Promise<ObjectStat | undefined>;

  /**
   * Optional: reads the whole object through buffers that are reused, calling `visit` with each
   * piece in order (valid only during the call), and returns the size read. A store that has it
   * (fs) lets a reader hash gigabytes without leaving a chunk of garbage per read. Throws NotFound
   * when the object does not exist.
   */
  scan?(key: string, visit: (piece: Buffer) => void): Promise<number>;

  /**
   * Every object whose key starts with `prefix` (a string prefix, as in S3: `ckpt/job-1` also
   * matches `ckpt/job-10/...`; end it with `/` for one "directory"), recursively, sorted by key
   * in UTF-8 byte order. `''` lists the whole store.
   */
  list(prefix: string): AsyncIterable<ObjectEntry>;

  /** Removes the object; removing a missing object is not an error (deletes are retried). */
  delete(key: string): Promise<void>;

  /** Removes every object under `prefix` (not `''`: wiping the store takes more than one call) and returns how many. */
  deletePrefix(prefix: string): Promise<number>;

  /** Hex sha256 of the stored bytes, streamed. Throws NotFound when the object does not exist. */
  sha256(key: string): Promise<string>;

  /** Lets another process (a GPU worker) write `key` directly, for `expirySeconds` (1 s to 7 days). */
  presignPut(key: string, expirySeconds: number): Promise<AccessGrant>;

  /** Lets another process (a GPU worker) read `key` directly, for `expirySeconds` (1 s to 7 days). */
  presignGet(key: string, expirySeconds: number): Promise<AccessGrant>;
}

export type StorageDriver = 's3' | 'fs';

export interface PutOptions {
  /**
   * The body's length when known. It lets the s3 driver pick its part size, and the put fails
   * (leaving nothing visible) when the body turns out longer or shorter.
   */
  size?: number;
  /** Stored as the object's Content-Type by the s3 driver; the fs driver keeps no metadata. */
  contentType?: string;
}

export interface PutResult {
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** Bytes `[offset, offset + length)`, or from `offset` to the end when `length` is absent. */
export interface ByteRange {
  offset: number;
  length?: number;
}

export interface ObjectStat {
  size: number;
  lastModified: Date;
}

export interface ObjectEntry extends ObjectStat {
  key: string;
}

/**
 * How another process reaches an object without holding the store's credentials.
 * - `url` (s3): a presigned URL for exactly one method, valid until `expiresAt`.
 * - `path` (fs): the absolute file path on the shared filesystem. There is no expiry to enforce;
 *   a writer must still write atomically (temporary file in the same directory, then rename)
 *   because readers see the path at once.
 */
export type AccessGrant =
  | { kind: 'url'; url: string; method: 'GET' | 'PUT'; expiresAt: Date }
  | { kind: 'path'; path: string };
