import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SERVICES } from '@hounsfield/testing';
import { Fixture, startFixture } from './stack-fixture';

describe('every service boots, connects to NATS and answers /healthz', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await startFixture();
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it.each(SERVICES)('%s is healthy', async (name) => {
    const port = fixture.stack.portOf(name);
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ service: name, status: 'ok', checks: { nats: true } });
  });

  it('reports 503 naming NATS when the connection is gone', async () => {
    await fixture.stack.nats.process.kill();
    const deadline = Date.now() + 10_000;
    let status = 0;
    let body: { checks?: Record<string, boolean> } = {};
    while (Date.now() < deadline) {
      const response = await fetch(`http://127.0.0.1:${fixture.stack.portOf('checkpoints')}/healthz`);
      status = response.status;
      body = (await response.json()) as typeof body;
      if (status === 503) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(503);
    expect(JSON.stringify(body)).toContain('"nats":false');
  });
});
