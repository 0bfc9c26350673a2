export * from './codec';
export * from './durable-consumer';
export * from './messaging.errors';
export * from './nats-client';
export * from './publisher';
export * from './rpc';
export * from './topology';
export * from './messaging.module';
