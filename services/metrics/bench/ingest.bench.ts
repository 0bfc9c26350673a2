/**
 * Ingestion benchmark: events per second taken off the EVENTS stream by the metrics service (decode,
 * validate, Prometheus gauges, job states and downsampled series in Redis, health checks, ack)
 * versus bare JetStream consumers that only receive and ack, on the same stream in the same run.
 *
 *   npm run bench -w @hounsfield/metrics            (EVENTS=100000 ROUNDS=3 WARMUP=1 to change the size)
 *
 * The stream is filled once with a realistic mix: progress reports of 50 jobs (three loss terms, LR,
 * throughput, step and data-wait times) and, for every 20 reports, a heartbeat of one of 8 workers
 * with 8 GPUs. Each round reads all of it with fresh durable consumers (the same single wildcard
 * filter as the service); the rounds alternate the consumers, and the table shows the median of
 * each, after a warm-up round that is not counted (each consumer's code compiled, as in a service
 * that runs for days; the first round is some 15% slower for the service, 8% for a bare consumer).
 * Two bare baselines: one ack per message (the textbook durable consumer, what the target is
 * measured against) and one ack per 500 messages (the service's own ack policy, for reference).
 * The process runs with the service's V8 flags (SERVICE_NODE_FLAGS.metrics), as the service would.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AckPolicy } from '@nats-io/jetstream';
import { CONSUMERS, jobSpecSchema, JobRecord, ProgressEvent, RPC, SCHEMA_VERSION, STREAMS, SUBJECTS, WorkerHeartbeat } from '@hounsfield/contracts';
import { encodeJson, ensureConsumer, eventsConsumerConfig, NatsClient, RpcFailure, serveRpc } from '@hounsfield/messaging';
import { SERVICE_NODE_FLAGS, startNatsServer, startRedisServer } from '@hounsfield/testing';
import { z } from 'zod';
import { metricsModule } from '../src/app.module';
import { loadMetricsConfig } from '../src/config';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** Rounds run first and not counted: the service runs for days, so it is measured with its code compiled (JIT), as the bare consumers are. */
const WARMUP = Number(process.env.WARMUP ?? 1);
const JOBS = 50;
const WORKERS = 8;
const FILTERS = [SUBJECTS.eventsAll];
const BATCH = 500;

function jobRecord(id: string): JobRecord {
  const at = new Date().toISOString();
  return {
    id,
    spec: jobSpecSchema.parse({ name: id, kind: 'pcdiff', hyperparameters: { globalBatch: 56, baseLr: 2e-4, referenceBatch: 8 } }),
    state: 'running',
    attempt: 1,
    restarts: 0,
    createdAt: at,
    updatedAt: at,
    workerId: `node-${Number(id.split('-')[1]) % WORKERS}`,
    gpuIndices: [0, 1, 2, 3, 4, 5, 6],
    resolved: { worldSize: 7, globalBatch: 56, perDeviceBatch: 8, gradAccumSteps: 1, referenceBatch: 8, baseLr: 2e-4, lrScaling: 'linear', lr: 1.4e-3 },
    history: [{ state: 'running', attempt: 1, at }],
  };
}

function* workload(): Generator<{ subject: string; payload: ProgressEvent | WorkerHeartbeat }> {
  const steps = new Array<number>(JOBS).fill(0);
  for (let i = 0; i < EVENTS; i += 1) {
    const at = new Date().toISOString();
    if (i % 21 === 20) {
      const w = i % WORKERS;
      const gpus = Array.from({ length: 8 }, (_, index) => ({
        index, uuid: `GPU-${w}-${index}`, name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 80 * 2 ** 30,
        memoryUsedBytes: 40 * 2 ** 30, utilizationPercent: 70 + index, temperatureCelsius: 60, powerWatts: 500, foreignProcesses: false,
      }));
      const running = [{ jobId: `job-${w}`, attempt: 1 }];
      yield { subject: SUBJECTS.workerHeartbeat(`node-${w}`), payload: { v: SCHEMA_VERSION, type: 'heartbeat', workerId: `node-${w}`, hostname: `node-${w}`, simulated: false, gpus, kinds: [], running, intervalSeconds: 5, at } };
      continue;
    }
    const j = i % JOBS;
    const step = ++steps[j];
    const base = 1 / Math.sqrt(step);
    yield {
      subject: SUBJECTS.jobProgress(`job-${j}`),
      payload: {
        v: SCHEMA_VERSION, type: 'progress', jobId: `job-${j}`, attempt: 1, workerId: `node-${j % WORKERS}`, seq: step, step,
        totalSteps: 1_000_000, epoch: step / 100, metrics: { loss: base, loss_eps: 0.8 * base, loss_kl: 0.2 * base },
        lr: 1.4e-3, samplesPerSecond: 56, dataWaitSeconds: 0.01, stepSeconds: 0.2, at,
      },
    };
  }
}

async function fill(nats: NatsClient): Promise<void> {
  let pending: Promise<unknown>[] = [];
  let n = 0;
  for (const { subject, payload } of workload()) {
    pending.push(nats.js.publish(subject, encodeJson(payload), { msgID: `bench-${n++}` }));
    if (pending.length === 2000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}

/** Wall seconds of one round, and the CPU microseconds this process, nats-server and redis-server spent in it. */
interface Round {
  seconds: number;
  cpuMicros: number;
  natsMicros: number;
  redisMicros: number;
}

/** CPU time of a server process so far (Linux /proc), in microseconds; 0 where /proc is missing. */
function processCpuMicros(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6; // utime + stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

/** Measures a round: wall time and the CPU of this process and of the two servers. */
async function measured(servers: { nats?: number; redis?: number }, run: () => Promise<void>): Promise<Round> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const nats = processCpuMicros(servers.nats);
  const redis = processCpuMicros(servers.redis);
  await run();
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    cpuMicros: used.user + used.system,
    natsMicros: processCpuMicros(servers.nats) - nats,
    redisMicros: processCpuMicros(servers.redis) - redis,
  };
}

type Servers = { nats?: number; redis?: number };

/** Receives every message with a fresh durable, acking each (or each batch's last); until the last ack was sent. */
async function bareRound(nats: NatsClient, servers: Servers, round: number, perBatch: boolean): Promise<Round> {
  const durable = `bench-bare-${perBatch ? 'batch' : 'each'}-${round}`;
  await ensureConsumer(nats.jsm, STREAMS.events, { ...eventsConsumerConfig(durable, FILTERS), ack_policy: perBatch ? AckPolicy.All : AckPolicy.Explicit });
  const consumer = await nats.js.consumers.get(STREAMS.events, durable);
  const result = await measured(servers, async () => {
    const messages = await consumer.consume({ max_messages: BATCH });
    let seen = 0;
    for await (const msg of messages) {
      seen += 1;
      if (!perBatch || seen % BATCH === 0 || seen === EVENTS) msg.ack();
      if (seen === EVENTS) break;
    }
    await messages.close();
  });
  await nats.jsm.consumers.delete(STREAMS.events, durable);
  return result;
}

/** Boots the metrics service (in this process) on a fresh durable and Redis prefix; until it acked everything. */
async function serviceRound(nats: NatsClient, servers: Servers, natsUrl: string, redisUrl: string, round: number): Promise<Round> {
  const config = loadMetricsConfig({
    HOUNSFIELD_NATS_URL: natsUrl,
    HOUNSFIELD_REDIS_URL: redisUrl,
    HOUNSFIELD_REDIS_PREFIX: `bench${round}:`,
    HOUNSFIELD_LOG_LEVEL: 'error',
    HOUNSFIELD_METRICS_SCHEDULER_POLL_SECONDS: '3600',
  });
  const app: INestApplication = await NestFactory.create(metricsModule(config), { logger: ['error'] });
  const result = await measured(servers, async () => {
    await app.init();
    for (;;) {
      const info = await nats.jsm.consumers.info(STREAMS.events, CONSUMERS.metrics);
      if (info.ack_floor.stream_seq >= EVENTS && info.num_ack_pending === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  await app.close();
  await nats.jsm.consumers.delete(STREAMS.events, CONSUMERS.metrics);
  return result;
}

/** The round of median wall time. */
const median = (rounds: Round[]) => [...rounds].sort((a, b) => a.seconds - b.seconds)[Math.floor(rounds.length / 2)];

async function main(): Promise<void> {
  const natsServer = await startNatsServer();
  const redisServer = await startRedisServer();
  const nats = await NatsClient.connect({ url: natsServer.url, name: 'bench' });
  const jobs = new Map(Array.from({ length: JOBS }, (_, j) => [`job-${j}`, jobRecord(`job-${j}`)]));
  serveRpc(nats.nc, RPC.getJob, 'scheduler', z.object({ id: z.string() }).strict(), async ({ id }) => {
    const job = jobs.get(id);
    if (!job) throw new RpcFailure({ code: 'not_found', message: id });
    return job;
  });
  try {
    const filling = performance.now();
    await fill(nats);
    console.log(`stream filled with ${EVENTS} events in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
    const servers = { nats: natsServer.process.pid, redis: redisServer.process.pid };
    const bare: Round[] = [];
    const bareBatch: Round[] = [];
    const service: Round[] = [];
    const rate = (r: Round) => (EVENTS / r.seconds).toFixed(0);
    for (let round = 0; round < WARMUP + ROUNDS; round += 1) {
      const each = await bareRound(nats, servers, round, false);
      const batch = await bareRound(nats, servers, round, true);
      const ingest = await serviceRound(nats, servers, natsServer.url, redisServer.url, round);
      const name = round < WARMUP ? `warm-up ${round + 1} (not counted)` : `round ${round - WARMUP + 1}`;
      console.log(`${name}: bare ${rate(each)}, bare acking per batch ${rate(batch)}, service ${rate(ingest)} events/s (load ${os.loadavg()[0].toFixed(1)})`);
      if (round < WARMUP) continue;
      bare.push(each);
      bareBatch.push(batch);
      service.push(ingest);
    }
    const bareRate = EVENTS / median(bare).seconds;
    const serviceRate = EVENTS / median(service).seconds;
    const perEvent = (micros: number) => (micros / EVENTS).toFixed(1);
    const row = (name: string, r: Round) =>
      `| ${name.padEnd(48)} | ${EVENTS} | ${r.seconds.toFixed(2)} | ${rate(r)} | ${(EVENTS / r.seconds / bareRate).toFixed(2)} | ` +
      `${perEvent(r.cpuMicros)} | ${perEvent(r.natsMicros)} | ${perEvent(r.redisMicros)} | ${perEvent(r.cpuMicros + r.natsMicros + r.redisMicros)} |`;
    console.log('');
    console.log(`| ${'consumer (median of rounds)'.padEnd(48)} | events | seconds | events/s | vs bare | CPU µs/event: node | nats-server | redis | total |`);
    console.log(`|${'-'.repeat(50)}|-------:|--------:|---------:|--------:|-------------------:|------------:|------:|------:|`);
    console.log(row('bare JetStream consumer, ack per message', median(bare)));
    console.log(row(`bare JetStream consumer, ack per ${BATCH} messages`, median(bareBatch)));
    console.log(row('metrics service (validate, expose, store, watch)', median(service)));
    console.log('');
    // Wall rates depend on what else the machine runs; CPU per event does not (much). On an idle
    // machine the rate is bounded by one core for the node process (1e6 / its µs per event) and by
    // all cores for the total.
    console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`target: ≥ 0.5× bare and ≥ 20000 events/s — ${serviceRate / bareRate >= 0.5 && serviceRate >= 20_000 ? 'met' : 'NOT met'}`);
  } finally {
    await nats.close();
    await natsServer.stop();
    await redisServer.stop();
  }
}

/** The service runs in this process, so this process gets the V8 flags the service is started with (re-run with them when missing). */
const serviceFlags = SERVICE_NODE_FLAGS.metrics ?? [];
if (serviceFlags.some((flag) => !process.execArgv.includes(flag))) {
  const run = spawnSync(process.execPath, [...serviceFlags, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
