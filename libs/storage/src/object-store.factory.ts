import { FsObjectStore } from './fs-object-store';
import type { ObjectStore } from './object-store';
import { parseStorageConfig, type StorageConfigInput } from './storage.config';

/**
 * Validates `config`, builds its driver and makes it ready to use: the fs root or the S3 bucket
 * is created when missing, so the first checkpoint never fails on a missing location. The S3
 * driver (and the `minio` client, about 20 MB of resident memory) is loaded only when configured.
 */
export async function createObjectStore(config: StorageConfigInput): Promise<ObjectStore> {
  const parsed = parseStorageConfig(config);
  switch (parsed.driver) {
    case 'fs': {
      const store = new FsObjectStore(parsed.root);
      await store.ensureRoot();
      return store;
    }
    case 's3': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when configured (see above)
      const { S3ObjectStore } = require('./s3-object-store') as typeof import('./s3-object-store');
      const store = new S3ObjectStore(parsed);
      await store.ensureBucket();
      return store;
    }
    default: {
      const unknown: never = parsed;
      throw new Error(`unknown storage driver ${JSON.stringify(unknown)}`);
    }
  }
}
