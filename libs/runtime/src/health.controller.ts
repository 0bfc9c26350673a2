import { Controller, Get, HttpException, HttpStatus, Inject, Optional } from '@nestjs/common';
import { NatsClient } from '@hounsfield/messaging';
import { Public } from './public-route';

export const SERVICE_NAME = Symbol('SERVICE_NAME');
/** Extra readiness checks a service registers (for example Redis); each resolves to true when healthy. */
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
export type HealthChecks = Record<string, () => Promise<boolean>>;

@Controller()
export class HealthController {
  constructor(
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Optional() @Inject(HEALTH_CHECKS) private readonly checks: HealthChecks = {},
  ) {}

  /** 200 when every dependency answers, 503 with the failing ones named otherwise. */
  @Public()
  @Get('healthz')
  async health(): Promise<Record<string, unknown>> {
    const results: Record<string, boolean> = { nats: this.nats.connected };
    for (const [name, check] of Object.entries(this.checks)) {
      results[name] = await check().catch(() => false);
    }
    const body = { service: this.service, status: Object.values(results).every(Boolean) ? 'ok' : 'degraded', checks: results };
    if (body.status !== 'ok') throw new HttpException(body, HttpStatus.SERVICE_UNAVAILABLE);
    return body;
  }
}
