export * from './format';
export * from './http-client';
export * from './server-sent-events';
