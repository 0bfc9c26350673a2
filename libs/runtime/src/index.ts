export * from './bootstrap';
export * from './config';
export * from './health.controller';
export * from './service-module';
export * from './run-service';
export * from './metrics.controller';
export * from './prometheus.registry';
export * from './infrastructure.providers';
