export * from './object-store';
export * from './object-store.factory';
export * from './object-key';
export * from './object-request';
export * from './fs-object-store';
// Type only: the S3 driver loads `minio`, which a process using the fs store should not pay for.
export type { S3ObjectStore } from './s3-object-store';
export * from './storage.config';
export * from './storage.errors';
export { digestStream } from './stream-digest';
