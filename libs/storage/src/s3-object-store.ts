import { Client } from 'minio';
import type { Readable } from 'node:stream';
import { assertValidKey, assertValidPrefix } from './object-key';
import { assertByteRange, assertDeclaredSize, grantExpiry, rangeNotSatisfiable } from './object-request';
import type { AccessGrant, ByteRange, ObjectEntry, ObjectStat, ObjectStore, PutOptions, PutResult } from './object-store';
import { streamingUpload } from './s3-streaming-upload';
import type { S3StorageConfig } from './storage.config';
import { StorageError } from './storage.errors';
import { digestStream } from './stream-digest';

/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;

/**
 * Objects in one bucket of an S3-compatible store (MinIO, AWS S3, moto in tests) through the
 * `minio` client. Grants are presigned URLs, so GPU workers upload and download without credentials.
 */
export class S3ObjectStore implements ObjectStore {
  readonly driver = 's3' as const;
  readonly bucket: string;
  private readonly client: Client;

  constructor(private readonly config: S3StorageConfig) {
    const url = new URL(config.endpoint);
    const useSSL = url.protocol === 'https:';
    this.bucket = config.bucket;
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      region: config.region,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      pathStyle: config.pathStyle,
    });
  }

  /** Creates the bucket if it does not exist; safe to call from several services at once. */
  async ensureBucket(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      await this.client.makeBucket(this.bucket, this.config.region);
    } catch (error) {
      // Another service created it between our check and our create.
      if (s3Code(error) === 'BucketAlreadyOwnedByYou') return;
      throw StorageError.io(`cannot create bucket ${this.bucket} at ${this.config.endpoint}`, undefined, error);
    }
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    assertDeclaredSize(key, options.size);
    try {
      return await streamingUpload(this.client, body, {
        bucket: this.bucket,
        key,
        partSize: this.config.partSize,
        size: options.size,
        contentType: options.contentType,
      });
    } catch (error) {
      throw toStorageError(error, key, 'write');
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    if (!range) return this.call(key, 'read', () => this.client.getObject(this.bucket, key));
    assertByteRange(key, range);
    try {
      return await this.client.getPartialObject(this.bucket, key, range.offset, range.length ?? 0);
    } catch (error) {
      if (s3Code(error) === 'InvalidRange') {
        const size = (await this.stat(key))?.size;
        if (size === undefined) throw StorageError.notFound(key);
        throw rangeNotSatisfiable(key, range, size);
      }
      throw toStorageError(error, key, 'read');
    }
  }

  async stat(key: string): Promise<ObjectStat | undefined> {
    assertValidKey(key);
    try {
      const info = await this.client.statObject(this.bucket, key);
      return { size: info.size, lastModified: info.lastModified };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw toStorageError(error, key, 'stat');
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectEntry> {
    assertValidPrefix(prefix);
    try {
      // ListObjectsV2 returns keys in UTF-8 byte order, page by page; the stream fetches pages on demand.
      for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
        // A recursive listing has no common prefixes; the check is for the type.
        if (item.name !== undefined) yield { key: item.name, size: item.size, lastModified: item.lastModified };
      }
    } catch (error) {
      throw toStorageError(error, prefix, 'list');
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    // S3 answers 204 for a missing key too, which is the contract we want.
    await this.call(key, 'delete', () => this.client.removeObject(this.bucket, key));
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw StorageError.invalidKey(prefix, 'refusing to delete every object; give a prefix');
    let deleted = 0;
    let batch: string[] = [];
    for await (const { key } of this.list(prefix)) {
      batch.push(key);
      if (batch.length === DELETE_BATCH) {
        deleted += await this.deleteBatch(prefix, batch);
        batch = [];
      }
    }
    if (batch.length > 0) deleted += await this.deleteBatch(prefix, batch);
    return deleted;
  }

  async sha256(key: string): Promise<string> {
    const body = await this.get(key);
    try {
      return (await digestStream(key, body)).sha256;
    } catch (error) {
      throw toStorageError(error, key, 'read');
    }
  }

  async presignPut(key: string, expirySeconds: number): Promise<AccessGrant> {
    assertValidKey(key);
    const expiresAt = grantExpiry(key, expirySeconds);
    const url = await this.call(key, 'presign', () => this.client.presignedPutObject(this.bucket, key, expirySeconds));
    return { kind: 'url', url, method: 'PUT', expiresAt };
  }

  async presignGet(key: string, expirySeconds: number): Promise<AccessGrant> {
    assertValidKey(key);
    const expiresAt = grantExpiry(key, expirySeconds);
    const url = await this.call(key, 'presign', () => this.client.presignedGetObject(this.bucket, key, expirySeconds));
    return { kind: 'url', url, method: 'GET', expiresAt };
  }

  private async deleteBatch(prefix: string, keys: string[]): Promise<number> {
    const failures = await this.call(prefix, 'delete', () => this.client.removeObjects(this.bucket, keys));
    const errors = failures.filter((f) => f?.Error);
    if (errors.length > 0) {
      const first = errors[0]?.Error;
      throw StorageError.io(`cannot delete ${errors.length} objects under ${prefix} (first: ${first?.Key}: ${first?.Code} ${first?.Message})`, prefix);
    }
    return keys.length;
  }

  private async call<T>(key: string, action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toStorageError(error, key, action);
    }
  }
}

function s3Code(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function isNotFound(error: unknown): boolean {
  // GetObject says NoSuchKey; HeadObject has no body, so minio reports NotFound.
  const code = s3Code(error);
  return code === 'NoSuchKey' || code === 'NotFound';
}

function toStorageError(error: unknown, key: string, action: string): StorageError {
  if (error instanceof StorageError) return error;
  if (isNotFound(error)) return StorageError.notFound(key);
  return StorageError.io(`cannot ${action} ${key}`, key, error);
}
