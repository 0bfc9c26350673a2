import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HounsfieldClient } from '@hounsfield/client';
import { LocalStack, ServiceName, WorkerOptions } from '@hounsfield/testing';

/** Fast timings so that failure paths show within a test's time. */
export const FAST_ENV = {
  HOUNSFIELD_LOG_LEVEL: 'warn',
  HOUNSFIELD_HEARTBEAT_INTERVAL: '1',
  HOUNSFIELD_WORKER_TTL_SECONDS: '6',
  HOUNSFIELD_RECONCILE_INTERVAL_MS: '500',
};

export interface Fixture {
  stack: LocalStack;
  client: HounsfieldClient;
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function startFixture(services?: ServiceName[]): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-'));
  const stack = await LocalStack.start({ dataDir, env: FAST_ENV, services });
  const client = new HounsfieldClient({ baseUrl: stack.gatewayUrl });
  return {
    stack,
    client,
    dataDir,
    async cleanup() {
      await stack.stop();
      if (!process.env.HOUNSFIELD_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts a worker and waits until the scheduler lists it. */
export async function startRegisteredWorker(fixture: Fixture, options: WorkerOptions, timeoutMs = 60_000): Promise<void> {
  fixture.stack.startWorker(options);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const workers = await fixture.client.listWorkers().catch(() => []);
    if (workers.some((w) => w.workerId === options.workerId)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`worker ${options.workerId} did not register within ${timeoutMs} ms`);
}
