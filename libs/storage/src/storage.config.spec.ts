import { describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import { DEFAULT_FS_ROOT, parseStorageConfig, storageConfigFromEnv } from './storage.config';
import { StorageError, StorageErrorCode } from './storage.errors';

const s3Env = {
  HOUNSFIELD_STORAGE_DRIVER: 's3',
  HOUNSFIELD_S3_ENDPOINT: 'http://127.0.0.1:9000',
  HOUNSFIELD_S3_BUCKET: 'hounsfield',
  HOUNSFIELD_S3_ACCESS_KEY: 'minio',
  HOUNSFIELD_S3_SECRET_KEY: 'very-secret-value',
};

function configError(check: () => unknown): StorageError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe(StorageErrorCode.InvalidConfig);
    return error as StorageError;
  }
  throw new Error('expected an InvalidConfig error');
}

describe('storage configuration from the environment', () => {
  it('defaults to the fs driver under the local data directory, as an absolute path', () => {
    expect(storageConfigFromEnv({})).toEqual({ driver: 'fs', root: resolve(DEFAULT_FS_ROOT) });
    expect(storageConfigFromEnv({ HOUNSFIELD_STORAGE_ROOT: '/mnt/nfs/hounsfield' })).toEqual({ driver: 'fs', root: '/mnt/nfs/hounsfield' });
  });

  it('reads the s3 settings with region, path style and part size defaults', () => {
    expect(storageConfigFromEnv(s3Env)).toEqual({
      driver: 's3',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      bucket: 'hounsfield',
      accessKey: 'minio',
      secretKey: 'very-secret-value',
      pathStyle: true,
      partSize: 16 * 1024 * 1024,
    });
    expect(storageConfigFromEnv({ ...s3Env, HOUNSFIELD_S3_REGION: 'eu-central-1', HOUNSFIELD_S3_PATH_STYLE: 'false' })).toMatchObject({
      region: 'eu-central-1',
      pathStyle: false,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(storageConfigFromEnv({ ...s3Env, HOUNSFIELD_S3_REGION: '' })).toMatchObject({ region: 'us-east-1' });
    expect(storageConfigFromEnv({ HOUNSFIELD_STORAGE_DRIVER: '' })).toMatchObject({ driver: 'fs' });
  });

  it('names the bad variable and what it should look like', () => {
    expect(configError(() => storageConfigFromEnv({ HOUNSFIELD_STORAGE_DRIVER: 'gcs' })).message).toMatch(
      /HOUNSFIELD_STORAGE_DRIVER: fs or s3 \(got "gcs"\)/,
    );
    const message = configError(() => storageConfigFromEnv({ ...s3Env, HOUNSFIELD_S3_ENDPOINT: 'minio:9000', HOUNSFIELD_S3_BUCKET: 'Bad_Bucket' })).message;
    expect(message).toContain('HOUNSFIELD_S3_ENDPOINT: an http(s) URL');
    expect(message).toContain('HOUNSFIELD_S3_BUCKET: a bucket name');
  });

  it('names every missing s3 variable', () => {
    const message = configError(() => storageConfigFromEnv({ HOUNSFIELD_STORAGE_DRIVER: 's3' })).message;
    for (const variable of ['HOUNSFIELD_S3_ENDPOINT', 'HOUNSFIELD_S3_BUCKET', 'HOUNSFIELD_S3_ACCESS_KEY', 'HOUNSFIELD_S3_SECRET_KEY']) {
      expect(message).toContain(`${variable}: required (unset)`);
    }
  });

  it('never echoes a credential back', () => {
    const message = configError(() => storageConfigFromEnv({ ...s3Env, HOUNSFIELD_S3_ENDPOINT: 'nope', HOUNSFIELD_S3_PATH_STYLE: 'maybe' })).message;
    expect(message).toContain('HOUNSFIELD_S3_PATH_STYLE: true or false (got "maybe")');
    expect(message).not.toContain('very-secret-value');
  });
});

describe('storage configuration objects', () => {
  it('rejects an unknown driver and a part size S3 would refuse', () => {
    expect(configError(() => parseStorageConfig({ driver: 'ftp' })).message).toContain('driver');
    expect(
      configError(() => parseStorageConfig({ ...{ driver: 's3', endpoint: 'http://h:1', bucket: 'abc', accessKey: 'a', secretKey: 'b' }, partSize: 1024 }))
        .message,
    ).toContain('partSize');
  });
});
