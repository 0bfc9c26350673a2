export * from './object-store';
export * from './object-store.factory';
export * from './object-key';
export * from './object-request';
export * from './fs-object-store';
export * from './s3-object-store';
export * from './storage.config';
export * from './storage.errors';
export { digestStream } from './stream-digest';
