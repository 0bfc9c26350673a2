import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { NatsClient, NatsClientOptions } from './nats-client';

export const NATS_CLIENT_OPTIONS = Symbol('NATS_CLIENT_OPTIONS');

/** Closes the connection when the application shuts down. */
@Injectable()
class NatsClientCloser implements OnApplicationShutdown {
  constructor(@Inject(NatsClient) private readonly client: NatsClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Connects to NATS once per application, provisions the JetStream topology, and provides the
 * `NatsClient` to every module. Options usually come from the service's parsed config.
 */
@Global()
@Module({})
export class MessagingModule {
  static forRootAsync(options: {
    inject: unknown[];
    useFactory: (...deps: never[]) => NatsClientOptions;
    imports?: DynamicModule['imports'];
  }): DynamicModule {
    return {
      module: MessagingModule,
      imports: options.imports ?? [],
      providers: [
        { provide: NATS_CLIENT_OPTIONS, inject: options.inject as never[], useFactory: options.useFactory },
        {
          provide: NatsClient,
          inject: [NATS_CLIENT_OPTIONS],
          useFactory: (clientOptions: NatsClientOptions) => NatsClient.connect(clientOptions),
        },
        NatsClientCloser,
      ],
      exports: [NatsClient],
    };
  }
}
