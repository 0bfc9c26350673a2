import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startS3Server, type ServerHandle } from '@hounsfield/testing';
import { Client } from 'minio';
import { randomUUID } from 'node:crypto';
import { createObjectStore, StorageError, type S3ObjectStore, type S3StorageConfig } from '../src';
import { bodyOf, failingStream, readAll } from './byte-streams';
import { describeObjectStoreBehaviour } from './object-store.behaviour';

const MiB = 1024 * 1024;

describe('s3 object store (moto server)', () => {
  let server: ServerHandle;
  let config: S3StorageConfig;
  let store: S3ObjectStore;
  let inspector: Client;

  beforeAll(async () => {
    server = await startS3Server();
    config = {
      driver: 's3',
      endpoint: server.url,
      region: 'us-east-1',
      bucket: `hf-test-${randomUUID().slice(0, 8)}`,
      accessKey: 'test',
      secretKey: 'test',
      pathStyle: true,
      // The smallest part S3 allows, so the multi-MB tests exercise multipart uploads.
      partSize: 5 * MiB,
    };
    store = (await createObjectStore(config)) as S3ObjectStore;
    const url = new URL(server.url);
    inspector = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: 'test', secretKey: 'test', region: 'us-east-1' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeObjectStoreBehaviour(() => store);

  it('creates its bucket once, and ensureBucket is idempotent', async () => {
    expect(await inspector.bucketExists(config.bucket)).toBe(true);
    await store.ensureBucket();
    const other = `hf-test-${randomUUID().slice(0, 8)}`;
    await createObjectStore({ ...config, bucket: other });
    expect(await inspector.bucketExists(other)).toBe(true);
  });

  it('aborts the multipart upload of a put that fails midway, leaving no parts behind', async () => {
    const key = `aborted-${randomUUID()}/model.safetensors`;
    // Two full parts are uploaded before the body breaks.
    await expect(store.put(key, failingStream(11 * MiB))).rejects.toThrow(StorageError);
    const uploads: unknown[] = [];
    for await (const upload of inspector.listIncompleteUploads(config.bucket, key, true)) uploads.push(upload);
    expect(uploads).toEqual([]);
    expect(await store.stat(key)).toBeUndefined();
  });

  it('stores the content type given to put', async () => {
    const key = `typed-${randomUUID()}/report.md`;
    await store.put(key, bodyOf('# report'), { contentType: 'text/markdown' });
    expect((await inspector.statObject(config.bucket, key)).metaData['content-type']).toBe('text/markdown');
  });

  it('grants a presigned PUT URL that a credential-less client can upload through', async () => {
    const key = `presigned-${randomUUID()}/model.safetensors`;
    const grant = await store.presignPut(key, 300);
    expect(grant).toMatchObject({ kind: 'url', method: 'PUT' });
    if (grant.kind !== 'url') return;
    expect(grant.expiresAt.getTime()).toBeGreaterThan(Date.now() + 290_000);
    expect(grant.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 300_000);

    const res = await fetch(grant.url, { method: 'PUT', body: Buffer.from('uploaded by a worker') });
    expect(res.status).toBe(200);

    expect((await readAll(await store.get(key))).toString()).toBe('uploaded by a worker');
  });

  it('grants a presigned GET URL that a credential-less client can download through', async () => {
    const key = `presigned-${randomUUID()}/meta.json`;
    await store.put(key, bodyOf('{"epoch":3}'));
    const grant = await store.presignGet(key, 60);
    expect(grant).toMatchObject({ kind: 'url', method: 'GET' });
    if (grant.kind !== 'url') return;
    const res = await fetch(grant.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"epoch":3}');
  });
});
