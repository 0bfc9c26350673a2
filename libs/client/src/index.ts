export * from './format';
export * from './http-client';
