/**
 * Scheduler benchmark: 64 simulated workers × 8 GPUs, 5,000 jobs of 1, 2, 4, 7 and 8 GPUs with
 * random durations, through the real scheduler process, NATS and Redis. Prints placements per
 * second, dispatch latency, GPU occupancy while the queue is non-empty, and the bare NATS
 * request/reply round trip measured in the same run.
 *
 *   npm run bench -w services/scheduler            (BENCH_JOBS, BENCH_WORKERS to scale down;
 *   BENCH_SERVICE_NODE_OPTIONS="--require <hook>" passes Node options to the scheduler, e.g. a profiler)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Assignment, assignmentSchema, CONSUMERS, jobKindSchema, JobRecord, jobRecordSchema, RPC, SCHEMA_VERSION, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { decodeJson, encodeJson, NatsClient, requestRpc } from '@hounsfield/messaging';
import { LocalStack } from '@hounsfield/testing';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { z } from 'zod';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 64);
const GPUS_PER_WORKER = 8;
const JOBS = Number(process.env.BENCH_JOBS ?? 5000);
const SIZES = [1, 2, 4, 7, 8];
const SIZE_WEIGHTS = [0.4, 0.25, 0.15, 0.1, 0.1];
const MIN_DURATION_MS = 100;
const MAX_DURATION_MS = 1500;

/** Deterministic pseudo-random numbers (mulberry32), so runs are comparable. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Timeline {
  submittedAt: Map<string, number>;
  assignedAt: Map<string, number>;
  /** Times at which a running job finished and gave its GPUs back. */
  releases: number[];
  busyGpus: number;
  occupancySamples: number[];
}

class SimulatedWorker {
  private messages?: ConsumerMessages;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly nats: NatsClient,
    readonly id: string,
    private readonly timeline: Timeline,
    private readonly rand: () => number,
  ) {}

  private async sendHeartbeat(): Promise<void> {
    const gpus = Array.from({ length: GPUS_PER_WORKER }, (_, index) => ({
      index,
      uuid: `BENCH-${this.id}-${index}`,
      name: 'Simulated H100 80GB',
      memoryTotalBytes: 80 * 2 ** 30,
      memoryUsedBytes: 0,
      utilizationPercent: 0,
      temperatureCelsius: 30,
      foreignProcesses: false,
    }));
    await this.nats.js.publish(
      SUBJECTS.workerHeartbeat(this.id),
      encodeJson({ v: SCHEMA_VERSION, type: 'heartbeat', workerId: this.id, hostname: this.id, simulated: true, gpus, kinds: jobKindSchema.options.map((kind) => ({ kind, version: '1' })), running: [...this.running.values()], intervalSeconds: 2, at: new Date().toISOString() }),
    );
  }

  async start(): Promise<void> {
    await this.sendHeartbeat();
    this.heartbeat = setInterval(() => void this.sendHeartbeat().catch(() => undefined), 2000);
  }

  async consume(): Promise<void> {
    for (;;) {
      try {
        const consumer = await this.nats.js.consumers.get(STREAMS.assign, CONSUMERS.worker(this.id));
        this.messages = await consumer.consume({ max_messages: 16 });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for await (const msg of this.messages) {
      msg.ack();
      const assignment = decodeJson(assignmentSchema, msg.data);
      this.timeline.assignedAt.set(assignment.jobId, performance.now());
      void this.run(assignment);
    }
  }

  private async status(a: Assignment, state: 'running' | 'succeeded'): Promise<void> {
    await this.nats.js.publish(
      SUBJECTS.jobStatus(a.jobId),
      encodeJson({ v: SCHEMA_VERSION, type: 'status', jobId: a.jobId, attempt: a.attempt, workerId: this.id, state, at: new Date().toISOString(), ...(state === 'succeeded' ? { exitCode: 0 } : {}) }),
      { msgID: `${a.jobId}:${a.attempt}:${state}` },
    );
  }

  private readonly running = new Map<string, { jobId: string; attempt: number }>();

  private async run(a: Assignment): Promise<void> {
    this.running.set(a.jobId, { jobId: a.jobId, attempt: a.attempt });
    this.timeline.busyGpus += a.gpuIndices.length;
    await this.status(a, 'running').catch(() => undefined);
    await new Promise((r) => setTimeout(r, MIN_DURATION_MS + this.rand() * (MAX_DURATION_MS - MIN_DURATION_MS)));
    this.timeline.busyGpus -= a.gpuIndices.length;
    this.timeline.releases.push(performance.now());
    this.running.delete(a.jobId);
    if (!this.stopped) await this.status(a, 'succeeded').catch(() => undefined);
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    void this.messages?.close();
  }
}

async function natsRoundTrip(nats: NatsClient, samples = 2000): Promise<number[]> {
  const sub = nats.nc.subscribe('bench.echo', {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  const times: number[] = [];
  const payload = encodeJson({ spec: { name: 'x'.repeat(200) } });
  for (let i = 0; i < samples; i += 1) {
    const t0 = performance.now();
    await nats.nc.request('bench.echo', payload, { timeout: 5000 });
    times.push(performance.now() - t0);
  }
  sub.unsubscribe();
  return times;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-bench-'));
  const stack = await LocalStack.start({
    dataDir,
    services: ['scheduler'],
    harness: true,
    env: { ...(process.env.BENCH_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS } : {}), HOUNSFIELD_LOG_LEVEL: 'warn', HOUNSFIELD_WORKER_TTL_SECONDS: '30', HOUNSFIELD_RECONCILE_INTERVAL_MS: '1000' },
  });
  const nats = await NatsClient.connect({ ...stack.harnessNats(), name: 'bench' });
  const timeline: Timeline = { submittedAt: new Map(), assignedAt: new Map(), releases: [], busyGpus: 0, occupancySamples: [] };
  const rand = random(7);
  try {
    const rtt = await natsRoundTrip(nats);
    const workers = Array.from({ length: WORKERS }, (_, i) => new SimulatedWorker(nats, `bench-${String(i).padStart(2, '0')}`, timeline, rand));
    await Promise.all(workers.map((w) => w.start()));
    const registered = Date.now() + 60_000;
    while ((await requestRpc(nats.nc, RPC.listWorkers, {}, z.array(z.unknown()))).length < WORKERS) {
      if (Date.now() > registered) throw new Error('simulated workers did not register within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const w of workers) void w.consume();

    const sizes = Array.from({ length: JOBS }, () => {
      let x = rand();
      for (let i = 0; i < SIZES.length; i += 1) {
        x -= SIZE_WEIGHTS[i];
        if (x <= 0) return SIZES[i];
      }
      return 1;
    });
    const sampler = setInterval(() => {
      if (timeline.submittedAt.size > timeline.assignedAt.size) timeline.occupancySamples.push(timeline.busyGpus / (WORKERS * GPUS_PER_WORKER));
    }, 50);
    const started = performance.now();
    let next = 0;
    const submitOne = async (): Promise<void> => {
      while (next < sizes.length) {
        const gpus = sizes[next++];
        const t0 = performance.now();
        const job: JobRecord = await requestRpc(nats.nc, RPC.submitJob, {
          spec: { name: `bench-${gpus}`, kind: 'script', script: { module: 'bench' }, resources: { gpus, waitForCapacity: true }, hyperparameters: { globalBatch: 8 * gpus, baseLr: 1e-4 } },
        }, jobRecordSchema);
        timeline.submittedAt.set(job.id, t0);
      }
    };
    await Promise.all(Array.from({ length: 16 }, submitOne));
    const submitSeconds = (performance.now() - started) / 1000;
    console.error(`  submitted ${JOBS} jobs in ${submitSeconds.toFixed(1)} s`);
    const deadline = Date.now() + 15 * 60_000;
    let lastReport = Date.now();
    while (timeline.assignedAt.size < JOBS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        console.error(`  … ${timeline.assignedAt.size}/${JOBS} placed, ${timeline.busyGpus} GPUs busy`);
      }
    }
    clearInterval(sampler);
    const elapsed = (Math.max(...timeline.assignedAt.values()) - started) / 1000;

    // Dispatch latency: from the later of submission and the last GPU release before the
    // assignment (when the job could first have been placed) to the assignment's arrival.
    const releases = [...timeline.releases].sort((a, b) => a - b);
    const dispatch: number[] = [];
    const queueWait: number[] = [];
    for (const [id, assigned] of timeline.assignedAt) {
      const submitted = timeline.submittedAt.get(id);
      if (submitted === undefined) continue;
      queueWait.push(assigned - submitted);
      let lo = 0;
      let hi = releases.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (releases[mid] < assigned) lo = mid + 1;
        else hi = mid;
      }
      const lastRelease = lo > 0 ? releases[lo - 1] : -Infinity;
      dispatch.push(assigned - Math.max(submitted, lastRelease));
    }
    const occupancy = timeline.occupancySamples.reduce((a, b) => a + b, 0) / Math.max(1, timeline.occupancySamples.length);
    const placements = timeline.assignedAt.size / elapsed;
    const row = (name: string, value: string, target = '') => console.log(`${name.padEnd(44)} ${value.padStart(12)}  ${target}`);
    console.log(`\nscheduler benchmark — ${WORKERS} workers × ${GPUS_PER_WORKER} GPUs, ${JOBS} jobs (sizes ${SIZES.join('/')}), durations ${MIN_DURATION_MS}–${MAX_DURATION_MS} ms, ${cpus().length} cores`);
    row('jobs placed', `${timeline.assignedAt.size}/${JOBS}`);
    row('submission (16 concurrent RPCs), jobs/s', (JOBS / submitSeconds).toFixed(0));
    row('placements per second', placements.toFixed(0), 'target ≥ 200');
    row('dispatch latency p50, ms', percentile(dispatch, 50).toFixed(1));
    row('dispatch latency p99, ms', percentile(dispatch, 99).toFixed(1), 'target < 100');
    row('queue wait p50 / p99, s', `${(percentile(queueWait, 50) / 1000).toFixed(1)} / ${(percentile(queueWait, 99) / 1000).toFixed(1)}`);
    row('GPU occupancy while the queue is non-empty', `${(occupancy * 100).toFixed(1)} %`, 'target > 90 %');
    row('bare NATS request/reply p50 / p99, ms', `${percentile(rtt, 50).toFixed(2)} / ${percentile(rtt, 99).toFixed(2)}`);
    row('dispatch p99 / NATS round trip p99', (percentile(dispatch, 99) / percentile(rtt, 99)).toFixed(1));
    for (const w of workers) w.stop();
  } finally {
    await nats.close();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
