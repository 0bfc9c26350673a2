import { INestApplication, LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface BootstrapOptions {
  port: number;
  host: string;
  logLevel: LogLevel;
}

/** Creates the Nest application, listens, and shuts down cleanly on SIGINT/SIGTERM. */
export async function bootstrapService(module: Type<unknown>, options: BootstrapOptions): Promise<INestApplication> {
  const app = await NestFactory.create(module, {
    logger: LEVELS.slice(0, LEVELS.indexOf(options.logLevel) + 1),
    bufferLogs: false,
  });
  app.enableShutdownHooks();
  await app.listen(options.port, options.host);
  return app;
}
