import 'reflect-metadata';
import { Type } from '@nestjs/common';
import { bootstrapService } from './bootstrap';
import { BaseConfig } from './config';

/** Entry point shared by every service's main.ts: parse config, build the module, listen. */
export function runService<C extends BaseConfig>(
  load: () => C,
  build: (config: C) => Type<unknown>,
  port: (config: C) => number,
  /** Largest JSON request body (a public API sets one; see BootstrapOptions). */
  jsonBodyLimitBytes?: (config: C) => number,
): void {
  (async () => {
    const config = load();
    await bootstrapService(build(config), {
      port: port(config),
      host: config.HOUNSFIELD_BIND_HOST,
      logLevel: config.HOUNSFIELD_LOG_LEVEL,
      jsonBodyLimitBytes: jsonBodyLimitBytes?.(config),
    });
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
