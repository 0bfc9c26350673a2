import { DynamicModule, Module, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { MessagingModule } from '@hounsfield/messaging';
import { HealthController, SERVICE_NAME } from './health.controller';

export interface ServiceModuleOptions {
  name: string;
  natsUrl: string;
  imports?: ModuleMetadata['imports'];
  controllers?: Type<unknown>[];
  providers?: Provider[];
}

/** A service's root module: NATS connection (topology provisioned), `/healthz`, and its own parts. */
export function serviceModule(options: ServiceModuleOptions): Type<unknown> {
  const messaging: DynamicModule = MessagingModule.forRootAsync({
    inject: [],
    useFactory: () => ({ url: options.natsUrl, name: options.name }),
  });
  @Module({
    imports: [messaging, ...(options.imports ?? [])],
    controllers: [HealthController, ...(options.controllers ?? [])],
    providers: [{ provide: SERVICE_NAME, useValue: options.name }, ...(options.providers ?? [])],
  })
  class ServiceRootModule {}
  return ServiceRootModule;
}
