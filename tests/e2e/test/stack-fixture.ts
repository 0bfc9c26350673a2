import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HounsfieldClient } from '@hounsfield/client';
import { spawnSync } from 'node:child_process';
import { LocalStack, pythonExecutable, REPO_ROOT, ServiceName, WorkerOptions } from '@hounsfield/testing';

/** Fast timings so that failure paths show within a test's time. */
export const FAST_ENV = {
  HOUNSFIELD_LOG_LEVEL: process.env.HOUNSFIELD_TEST_LOG_LEVEL ?? 'warn',
  HOUNSFIELD_HEARTBEAT_INTERVAL: '1',
  HOUNSFIELD_WORKER_TTL_SECONDS: '6',
  HOUNSFIELD_WORKER_RECONNECT_SECONDS: '10',
  // Scenarios run several small CPU jobs side by side on one worker; those about CPU slots set their own.
  HOUNSFIELD_CPU_SLOTS: '8',
  HOUNSFIELD_RECONCILE_INTERVAL_MS: '500',
};

export interface Fixture {
  stack: LocalStack;
  /** The typed client, as the first admin. */
  client: HounsfieldClient;
  dataDir: string;
  /** `fetch` on the gateway as the first admin (`path` starts with /v1/...). */
  api(path: string, init?: RequestInit): Promise<Response>;
  cleanup(): Promise<void>;
}

/** A started stack as a fixture whose cleanup stops it and removes its data (unless HOUNSFIELD_KEEP_TEST_DATA). */
export function fixtureOf(stack: LocalStack, dataDir: string): Fixture {
  // The gateway writes the first admin's token; a stack without a gateway has none.
  const token = stack.portOf('gateway') === undefined ? undefined : stack.adminToken;
  return {
    stack,
    client: new HounsfieldClient({ baseUrl: stack.gatewayUrl, token }),
    dataDir,
    api: (path, init = {}) => fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) } }),
    async cleanup() {
      await stack.stop();
      if (!process.env.HOUNSFIELD_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts a worker that the scheduler lists; on failure the whole fixture is cleaned up. */
export async function withRegisteredWorker(fixture: Fixture, options: WorkerOptions): Promise<Fixture> {
  try {
    await startRegisteredWorker(fixture, options);
  } catch (error) {
    await fixture.cleanup();
    throw error;
  }
  return fixture;
}

export async function startFixture(services?: ServiceName[]): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-'));
  return fixtureOf(await LocalStack.start({ dataDir, env: FAST_ENV, services }), dataDir);
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

/**
 * A full stack on the fs store whose worker reads the data root `<dataDir>/data`, which `python`
 * (given that path, run in gpu-workers/ with the project's interpreter) fills first.
 */
export async function startDataStack(options: { prefix: string; workerId: string; python: (data: string) => string; env?: NodeJS.ProcessEnv }): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), options.prefix));
  const data = join(dataDir, 'data');
  const made = spawnSync(pythonExecutable(), ['-c', options.python(data)], { cwd: join(REPO_ROOT, 'gpu-workers'), encoding: 'utf8' });
  if (made.status !== 0) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`the test data was not written: ${made.stderr}`);
  }
  const stack = await LocalStack.start({
    dataDir,
    env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects'), ...options.env },
  });
  return withRegisteredWorker(fixtureOf(stack, dataDir), { workerId: options.workerId, env: { HOUNSFIELD_DATA_ROOTS: data } });
}

/**
 * A full stack on the fs store with `subjects` synthetic skulls (32³, SkullBreak layout) under a
 * data root `data/skulls`, and one registered worker that may read them: what evaluations need.
 */
export async function startSkullStack(options: {
  prefix: string;
  workerId: string;
  subjects: number;
  seed: number;
  env?: NodeJS.ProcessEnv;
}): Promise<Fixture> {
  return startDataStack({
    prefix: options.prefix,
    workerId: options.workerId,
    env: options.env,
    python: (data) =>
      `from hounsfield.data.synthetic_skulls import generate_skullbreak as g; from pathlib import Path; g(Path(${JSON.stringify(join(data, 'skulls'))}), ${options.subjects}, shape=(32, 32, 32), seed=${options.seed})`,
  });
}
