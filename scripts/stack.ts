import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatEvent, formatJob, HounsfieldClient } from '@hounsfield/client';
import { JobSpecInput } from '@hounsfield/contracts';
import { LocalStack, REPO_ROOT } from '@hounsfield/testing';

/**
 * `npm start`: the local platform on fixed ports under .hounsfield/, until Ctrl-C.
 * `npm run demo`: the same, plus a sample training job followed live, then a clean stop.
 */
const demo = process.argv.includes('--demo');
const dataDir = process.env.HOUNSFIELD_HOME ?? join(REPO_ROOT, '.hounsfield');
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  nats: port('HOUNSFIELD_NATS_PORT', 14222),
  redis: port('HOUNSFIELD_REDIS_PORT', 16379),
  gateway: port('HOUNSFIELD_HTTP_PORT', 8080),
  scheduler: port('HOUNSFIELD_SCHEDULER_PORT', 8081),
  checkpoints: port('HOUNSFIELD_CHECKPOINTS_PORT', 8082),
  metrics: port('HOUNSFIELD_METRICS_PORT', 8083),
  evaluation: port('HOUNSFIELD_EVALUATION_PORT', 8084),
};

const SAMPLE_JOB: JobSpecInput = {
  name: 'demo-tiny-regression',
  kind: 'script',
  script: { module: 'hounsfield.examples.tiny_train', args: ['--steps', '200'] },
  resources: { gpus: 0, cpuProcesses: 2 },
  hyperparameters: { globalBatch: 64, referenceBatch: 32, baseLr: 0.01, lrScaling: 'linear' },
};

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

async function waitForWorker(client: HounsfieldClient, workerId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await client.listWorkers().catch(() => [])).some((w) => w.workerId === workerId)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`worker ${workerId} did not register; see ${join(dataDir, 'logs', `worker-${workerId}.log`)}`);
}

async function runDemo(client: HounsfieldClient): Promise<boolean> {
  const job = await client.submitJob(SAMPLE_JOB);
  log(`\nsubmitted ${job.id}: ${SAMPLE_JOB.name} (global batch 64 over 2 CPU processes with gloo DDP)`);
  for await (const event of client.jobEvents(job.id)) log(formatEvent(event));
  const final = await client.getJob(job.id);
  log(`\n${formatJob(final)}`);
  return final.state === 'succeeded';
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  log(`starting the local Hounsfield stack in ${dataDir} …`);
  const stack = await LocalStack.start({ dataDir, ports });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('\nstopping the stack …');
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));

  const workerId = process.env.HOUNSFIELD_WORKER_ID ?? 'local';
  stack.startWorker({ workerId, fakeGpus: process.env.HOUNSFIELD_FAKE_GPUS });
  const client = new HounsfieldClient({ baseUrl: stack.gatewayUrl });
  await waitForWorker(client, workerId);
  log(`gateway: ${stack.gatewayUrl}   (GET /v1/jobs, /v1/workers, /healthz)`);
  log(`logs:    ${join(dataDir, 'logs')}`);

  if (demo) {
    const ok = await runDemo(client);
    log('\nwhere to look next:');
    log(`  npm start                                   keep the stack running (gateway ${stack.gatewayUrl})`);
    log(`  npm run hounsfield -- list                  jobs, newest first`);
    log(`  npm run hounsfield -- submit my-spec.json   submit a job and follow it`);
    log(`  ${join(dataDir, 'workers', workerId)}   each attempt's log and outputs`);
    await stop(ok ? 0 : 1);
  } else {
    log('running; press Ctrl-C to stop');
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
