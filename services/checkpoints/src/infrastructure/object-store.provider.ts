import { Provider } from '@nestjs/common';
import { createObjectStore, ObjectStore } from '@hounsfield/storage';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';

/** The object store holding checkpoint bytes (fs or s3, from HOUNSFIELD_STORAGE_DRIVER). */
export const OBJECT_STORE = Symbol('OBJECT_STORE');
export type { ObjectStore };

export const objectStoreProvider: Provider = {
  provide: OBJECT_STORE,
  inject: [CHECKPOINTS_CONFIG],
  useFactory: (config: CheckpointsConfig): Promise<ObjectStore> => createObjectStore(config.storage),
};
