import { DynamicModule, Module, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { MessagingModule } from '@hounsfield/messaging';
import { HealthController, SERVICE_NAME } from './health.controller';
import { MetricsController } from './metrics.controller';
import { createServiceRegistry, PROMETHEUS_REGISTRY } from './prometheus.registry';

export interface ServiceModuleOptions {
  name: string;
  natsUrl: string;
  imports?: ModuleMetadata['imports'];
  controllers?: Type<unknown>[];
  providers?: Provider[];
}

/**
 * A service's root module: NATS connection (topology provisioned), `/healthz`, Prometheus `/metrics`
 * (process metrics plus whatever the service registers in `PROMETHEUS_REGISTRY`), and its own parts.
 */
export function serviceModule(options: ServiceModuleOptions): Type<unknown> {
  const messaging: DynamicModule = MessagingModule.forRootAsync({
    inject: [],
    useFactory: () => ({ url: options.natsUrl, name: options.name }),
  });
  @Module({
    imports: [messaging, ...(options.imports ?? [])],
    controllers: [HealthController, MetricsController, ...(options.controllers ?? [])],
    providers: [
      { provide: SERVICE_NAME, useValue: options.name },
      { provide: PROMETHEUS_REGISTRY, useFactory: createServiceRegistry },
      ...(options.providers ?? []),
    ],
  })
  class ServiceRootModule {}
  return ServiceRootModule;
}
