import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { promtoolCheckMetrics, ServerHandle, startNatsServer } from '@hounsfield/testing';
import { serviceModule } from '../src';

describe('every service answers /metrics for Prometheus', () => {
  let nats: ServerHandle;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    app = await NestFactory.create(serviceModule({ name: 'probe', natsUrl: nats.url }), { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await nats?.stop();
  });

  it('serves process and Node.js metrics in the text format that promtool accepts', async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    const check = promtoolCheckMetrics(text);
    expect(check.output).toBe('');
    expect(check.ok).toBe(true);
  });
});
