import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Registry } from 'prom-client';
import { PROMETHEUS_REGISTRY } from './prometheus.registry';

/** Prometheus exposition of the service's registry (text format 0.0.4). */
@Controller()
export class MetricsController {
  constructor(@Inject(PROMETHEUS_REGISTRY) private readonly registry: Registry) {}

  @Get('metrics')
  async metrics(@Res() response: Response): Promise<void> {
    const body = await this.registry.metrics();
    // end(), not send(): send() would rewrite the content type prom-client chose.
    response.status(200).setHeader('Content-Type', this.registry.contentType);
    response.setHeader('Cache-Control', 'no-store');
    response.end(body);
  }
}
