import { DynamicModule, Module, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { MessagingModule } from '@hounsfield/messaging';
import type { StorageConfig } from '@hounsfield/storage';
import { ServiceConnection } from './config';
import { HealthController, SERVICE_NAME } from './health.controller';
import { infrastructureProviders } from './infrastructure.providers';
import { MetricsController } from './metrics.controller';
import { createServiceRegistry, PROMETHEUS_REGISTRY } from './prometheus.registry';

export interface ServiceModuleOptions {
  name: string;
  natsUrl: string;
  /** NATS user/password, Redis password and stream replicas (the service's parsed config). */
  connection?: ServiceConnection;
  imports?: ModuleMetadata['imports'];
  controllers?: Type<unknown>[];
  providers?: Provider[];
  /** Provide `REDIS` (and its health check) with a connection to this URL. */
  redisUrl?: string;
  /** Provide `OBJECT_STORE` (and its health check) with this store. */
  storage?: StorageConfig;
}

/**
 * A service's root module: NATS connection (topology provisioned), `/healthz`, Prometheus `/metrics`
 * (process metrics plus whatever the service registers in `PROMETHEUS_REGISTRY`), and its own parts.
 */
export function serviceModule(options: ServiceModuleOptions): Type<unknown> {
  const messaging: DynamicModule = MessagingModule.forRootAsync({
    inject: [],
    useFactory: () => ({
      url: options.natsUrl,
      name: options.name,
      user: options.connection?.HOUNSFIELD_NATS_USER,
      password: options.connection?.HOUNSFIELD_NATS_PASSWORD,
      streamReplicas: options.connection?.HOUNSFIELD_JETSTREAM_REPLICAS,
    }),
  });
  @Module({
    imports: [messaging, ...(options.imports ?? [])],
    controllers: [HealthController, MetricsController, ...(options.controllers ?? [])],
    providers: [
      { provide: SERVICE_NAME, useValue: options.name },
      { provide: PROMETHEUS_REGISTRY, useFactory: createServiceRegistry },
      ...infrastructureProviders({ redisUrl: options.redisUrl, redisPassword: options.connection?.HOUNSFIELD_REDIS_PASSWORD, storage: options.storage }),
      ...(options.providers ?? []),
    ],
  })
  class ServiceRootModule {}
  return ServiceRootModule;
}
