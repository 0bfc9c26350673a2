import { FsObjectStore } from './fs-object-store';
import type { ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-object-store';
import { parseStorageConfig, type StorageConfigInput } from './storage.config';

/**
 * Validates `config`, builds its driver and makes it ready to use: the fs root or the S3 bucket
 * is created when missing, so the first checkpoint never fails on a missing location.
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
