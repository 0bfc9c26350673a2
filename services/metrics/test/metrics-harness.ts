import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  AlertEvent,
  alertEventSchema,
  GpuInfo,
  JobRecord,
  trainingJobSpecSchema,
  TrainingJobSpecInput,
  JobStateEvent,
  ProgressEvent,
  RPC,
  SCHEMA_VERSION,
  StatusEvent,
  SUBJECTS,
  WorkerHeartbeat,
  WorkerView,
  failJobRequestSchema,
  jobIdRequestSchema,
  listJobsRequestSchema,
} from '@hounsfield/contracts';
import { decodeJson, encodeJson, NatsClient, RpcFailure, serveRpc } from '@hounsfield/messaging';
import { ServerHandle, startNatsServer, startRedisServer } from '@hounsfield/testing';
import type { Subscription } from '@nats-io/nats-core';
import { z } from 'zod';
import { metricsModule } from '../src/app.module';
import { loadMetricsConfig, MetricsConfig } from '../src/config';
import { parseExposition, Sample } from './exposition-text';

/** The scheduler's side of the RPCs the metrics service uses, answered from records the test sets. */
export class FakeScheduler {
  readonly jobs = new Map<string, JobRecord>();
  readonly failRequests: { id: string; reason: string }[] = [];
  queued: JobRecord[] = [];
  workers: WorkerView[] = [];
  private subscriptions: Subscription[] = [];

  constructor(private readonly nats: NatsClient) {}

  start(): void {
    const nc = this.nats.nc;
    this.subscriptions = [
      serveRpc(nc, RPC.getJob, 'scheduler', jobIdRequestSchema, async ({ id }) => {
        const job = this.jobs.get(id);
        if (!job) throw new RpcFailure({ code: 'not_found', message: `no job with id ${id}` });
        return job;
      }),
      serveRpc(nc, RPC.failJob, 'scheduler', failJobRequestSchema, async ({ id, reason }) => {
        this.failRequests.push({ id, reason });
        const job = this.jobs.get(id);
        if (!job) throw new RpcFailure({ code: 'not_found', message: `no job with id ${id}` });
        return { ...job, cancelRequested: true, stopAs: 'failed', stopReason: reason };
      }),
      serveRpc(nc, RPC.listJobs, 'scheduler', listJobsRequestSchema, async () => ({ jobs: this.queued })),
      serveRpc(nc, RPC.listWorkers, 'scheduler', z.object({}).strict(), async () => this.workers),
    ];
  }

  stop(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }

  /** Stores a running job record as the scheduler would hold it. */
  addJob(id: string, spec: Partial<TrainingJobSpecInput> = {}, placement: Partial<JobRecord> = {}): JobRecord {
    const parsed = trainingJobSpecSchema.parse({ name: id, kind: 'script', script: { module: 'train' }, hyperparameters: { globalBatch: 8, baseLr: 0.001 }, ...spec });
    const at = new Date().toISOString();
    const job: JobRecord = {
      id,
      spec: parsed,
      state: 'running',
      attempt: 1,
      restarts: 0,
      createdAt: at,
      updatedAt: at,
      history: [{ state: 'queued', attempt: 1, at }],
      ...placement,
    };
    this.jobs.set(id, job);
    return job;
  }
}

export interface MetricsHarness {
  nats: NatsClient;
  scheduler: FakeScheduler;
  app: INestApplication;
  url: string;
  config: MetricsConfig;
  publish(subject: string, payload: unknown): Promise<void>;
  publishRaw(subject: string, data: string): Promise<void>;
  scrape(): Promise<Sample[]>;
  scrapeText(): Promise<string>;
  /** Alert events seen on the stream since the harness started. */
  alerts: AlertEvent[];
  close(): Promise<void>;
}

let msgCounter = 0;

/**
 * nats-server, redis-server, a stand-in scheduler and the metrics service in this process.
 * `beforeBoot` runs against NATS before the service starts (to set up what an earlier release left).
 */
export async function startMetricsHarness(env: Record<string, string> = {}, beforeBoot?: (nats: NatsClient) => Promise<void>): Promise<MetricsHarness> {
  const servers: ServerHandle[] = [];
  servers.push(await startNatsServer());
  servers.push(await startRedisServer());
  const [natsServer, redisServer] = servers;
  const nats = await NatsClient.connect({ url: natsServer.url, name: 'metrics-test' });
  const scheduler = new FakeScheduler(nats);
  scheduler.start();
  await beforeBoot?.(nats);
  const config = loadMetricsConfig({
    HOUNSFIELD_NATS_URL: natsServer.url,
    HOUNSFIELD_REDIS_URL: redisServer.url,
    HOUNSFIELD_LOG_LEVEL: 'warn',
    HOUNSFIELD_METRICS_SCHEDULER_POLL_SECONDS: '0.5',
    ...env,
  });
  const app = await NestFactory.create(metricsModule(config), { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;

  const alerts: AlertEvent[] = [];
  const alertSub = nats.nc.subscribe(`${SUBJECTS.eventsAll.replace('>', '')}job.*.alert`, {
    callback: (_err, msg) => {
      alerts.push(decodeJson(alertEventSchema, msg.data));
    },
  });

  const scrapeText = async () => (await fetch(`${url}/metrics`)).text();
  return {
    nats,
    scheduler,
    app,
    url,
    config,
    alerts,
    async publish(subject, payload) {
      msgCounter += 1;
      await nats.js.publish(subject, encodeJson(payload), { msgID: `test-${process.pid}-${msgCounter}` });
    },
    async publishRaw(subject, data) {
      msgCounter += 1;
      await nats.js.publish(subject, new TextEncoder().encode(data), { msgID: `test-${process.pid}-${msgCounter}` });
    },
    scrapeText,
    async scrape() {
      return parseExposition(await scrapeText());
    },
    async close() {
      alertSub.unsubscribe();
      await app.close();
      scheduler.stop();
      await nats.close();
      for (const server of servers.reverse()) await server.stop();
    },
  };
}

/** Polls until `check` returns a value that is not undefined/false, or throws with the last result. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await check();
    if (last !== undefined && last !== false) return last as T;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Event builders with the worker's and scheduler's shapes. */
export const events = {
  progress(jobId: string, seq: number, step: number, metrics: ProgressEvent['metrics'], extra: Partial<ProgressEvent> = {}): ProgressEvent {
    return { v: SCHEMA_VERSION, type: 'progress', jobId, attempt: 1, workerId: 'node-a', seq, step, metrics, at: iso(Date.now()), ...extra };
  },
  heartbeat(workerId: string, gpus: Partial<GpuInfo>[], running: { jobId: string; attempt: number }[] = [], atMs = Date.now()): WorkerHeartbeat {
    return {
      v: SCHEMA_VERSION,
      type: 'heartbeat',
      workerId,
      hostname: `${workerId}.lab`,
      simulated: true,
      gpus: gpus.map((g, index) => ({
        index,
        uuid: `GPU-${workerId}-${index}`,
        name: 'NVIDIA H100 80GB HBM3',
        memoryTotalBytes: 80 * 2 ** 30,
        memoryUsedBytes: 0,
        utilizationPercent: 0,
        temperatureCelsius: 35,
        foreignProcesses: false,
        ...g,
      })),
      kinds: [],
      running,
      intervalSeconds: 1,
      at: iso(atMs),
    };
  },
  state(jobId: string, state: JobStateEvent['state'], atMs: number, attempt = 1, from?: JobStateEvent['state']): JobStateEvent {
    return { v: SCHEMA_VERSION, type: 'state', jobId, attempt, state, ...(from ? { from } : {}), at: iso(atMs) };
  },
  status(jobId: string, state: StatusEvent['state'], atMs: number, attempt = 1): StatusEvent {
    return { v: SCHEMA_VERSION, type: 'status', jobId, attempt, workerId: 'node-a', state, at: iso(atMs) };
  },
};
