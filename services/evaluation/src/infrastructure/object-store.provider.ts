import { Provider } from '@nestjs/common';
import { createObjectStore, ObjectStore } from '@hounsfield/storage';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';

/** The object store holding evaluation artefacts and reports (fs or s3, from HOUNSFIELD_STORAGE_DRIVER). */
export const OBJECT_STORE = Symbol('OBJECT_STORE');
export type { ObjectStore };

export const objectStoreProvider: Provider = {
  provide: OBJECT_STORE,
  inject: [EVALUATION_CONFIG],
  useFactory: (config: EvaluationConfig): Promise<ObjectStore> => createObjectStore(config.storage),
};
