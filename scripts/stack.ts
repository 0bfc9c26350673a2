import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatEvent, formatJob, HounsfieldClient } from '@hounsfield/client';
import { EvaluationRecord, JobEvent, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack, pythonExecutable, REPO_ROOT } from '@hounsfield/testing';

/**
 * `npm start`: the local platform on fixed ports under .hounsfield/, until Ctrl-C.
 * `npm run demo`: the same, plus PCDiff's diffusion and voxelization trainings as two concurrent
 * CPU jobs on synthetic skulls, followed live; then the checkpoints as the checkpoint service
 * lists them, an evaluation of the trained pair on held-out synthetic skulls through the
 * evaluation service, its report, where the metrics are, and a clean stop.
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

/**
 * The demo trains PCDiff's two networks at once, as two CPU jobs on synthetic skulls that each
 * trainer generates into its own output directory first (no dataset needed). Sizes keep the whole
 * demo within a few minutes on two cores.
 */
const DEMO_SYNTHETIC = { subjects: 6, shape: 64 };
const DEMO_JOBS: TrainingJobSpecInput[] = [
  {
    name: 'demo-pcdiff',
    kind: 'pcdiff',
    resources: { gpus: 0, cpuProcesses: 1 },
    hyperparameters: { globalBatch: 8, baseLr: 1e-3, maxSteps: 240 },
    config: { preset: 'cpu-tiny', synthetic: DEMO_SYNTHETIC, logEvery: 20, checkpointEvery: 120 },
  },
  {
    name: 'demo-voxelization',
    kind: 'voxelization',
    resources: { gpus: 0, cpuProcesses: 1 },
    hyperparameters: { globalBatch: 2, baseLr: 3e-3, maxSteps: 400 },
    config: { preset: 'cpu-tiny', synthetic: DEMO_SYNTHETIC, logEvery: 40, checkpointEvery: 200 },
  },
];

/**
 * The evaluation's held-out skulls: other subjects (another seed) than the trainings saw, at the
 * trainings' size, in the worker's dataset root. One subject = one case per SkullBreak defect class.
 */
const DEMO_EVALUATION_SKULLS = { subjects: 1, seed: 1_000 };

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

function demoLine(event: JobEvent): string {
  if (event.type !== 'progress') return formatEvent(event).trim();
  const number = (value: unknown) => (typeof value === 'number' ? value.toFixed(4) : String(value));
  const validation = Object.entries(event.metrics).filter(([name]) => name.startsWith('val.'));
  const parts = [
    `step ${event.step}${event.totalSteps ? `/${event.totalSteps}` : ''}`,
    event.metrics.loss !== undefined ? `loss ${number(event.metrics.loss)}` : '',
    ...validation.map(([name, value]) => `${name} ${number(value)}`),
    event.epoch !== undefined ? `epoch ${event.epoch.toFixed(1)}` : '',
    event.samplesPerSecond !== undefined ? `${event.samplesPerSecond.toFixed(1)} samples/s` : '',
    event.dataWaitSeconds !== undefined ? `data wait ${(event.dataWaitSeconds * 1000).toFixed(0)} ms/step` : '',
  ];
  return parts.filter(Boolean).join('  ');
}

async function followJob(client: HounsfieldClient, job: JobRecord): Promise<JobRecord> {
  const prefix = `[${job.spec.name}]`.padEnd(Math.max(...DEMO_JOBS.map((j) => j.name.length)) + 3);
  for await (const event of client.jobEvents(job.id)) log(`${prefix}${demoLine(event)}`);
  return client.getJob(job.id);
}

async function runDemo(client: HounsfieldClient): Promise<boolean> {
  const started = Date.now();
  log('\nPCDiff on the CPU: the diffusion model and the voxelization network train at the same time,');
  log(`as two jobs, on ${DEMO_SYNTHETIC.subjects} synthetic skulls (${DEMO_SYNTHETIC.shape}^3) each trainer generates first.`);
  const jobs = await Promise.all(DEMO_JOBS.map((spec) => client.submitJob(spec)));
  jobs.forEach((job, i) => log(`submitted ${job.id}: ${job.spec.kind} "${job.spec.name}" (preset cpu-tiny, ${DEMO_JOBS[i].hyperparameters.maxSteps} steps)`));
  log('');
  const finals = await Promise.all(jobs.map((job) => followJob(client, job)));
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  log(`\nboth jobs ended after ${minutes} min:`);
  for (const job of finals) {
    log(formatJob(job));
    const checkpoints = await client.listCheckpoints(job.id);
    for (const ck of checkpoints.slice().reverse()) {
      log(`  checkpoint ${ck.id}  step ${String(ck.step).padStart(4)}  ${(ck.totalSize / 2 ** 20).toFixed(1)} MiB in ${ck.files.length} files  (committed ${ck.committedAt})`);
    }
  }
  if (!finals.every((job) => job.state === 'succeeded')) return false;
  const evaluation = await runEvaluation(client, finals);
  log('\nwhat a few CPU minutes can and cannot show:');
  log('  can:    the plumbing end to end (scheduling, two concurrent trainers, live progress, checkpoints,');
  log('          an evaluation fanned out as shard jobs) and the learning signal: both losses fall within minutes.');
  log('  cannot: implant quality. The CPU presets are 30x smaller than the paper\'s model (0.8 M vs 27.65 M');
  log('          parameters), see 2,048 instead of 30,720 points and train for minutes instead of 15,000 epochs;');
  log('          their sampled implants are far from the paper\'s SkullBreak DSC 0.87 / bDSC 0.89 / HD95 2.45 mm.');
  log('          That quality needs the paper-skullbreak / paper-skullfix presets on GPUs (kind pcdiff and');
  log('          voxelization, resources.gpus >= 1). For CPU-scale numbers: gpu-workers/bench/pcdiff_synthetic.py.');
  return evaluation.status === 'succeeded';
}

/** Evaluates the trained pair on the held-out skulls (DDIM-10, one shard on the CPU) and prints the report. */
async function runEvaluation(client: HounsfieldClient, [diffusion, voxelization]: JobRecord[]): Promise<EvaluationRecord> {
  log(`\nevaluating the trained pair on ${DEMO_EVALUATION_SKULLS.subjects * 5} held-out synthetic skulls (DDIM-10, one CPU shard) …`);
  const submitted = await client.submitEvaluation({
    name: 'demo',
    checkpoints: { diffusion: { job: diffusion.id, ref: 'latest' }, voxelization: { job: voxelization.id, ref: 'latest' } },
    dataset: { root: 'skulls' },
    sampler: { method: 'ddim', steps: 10 },
    ensembleSize: 1,
    shards: 1,
    device: 'cpu',
  });
  let record = submitted;
  let shown = -1;
  const deadline = Date.now() + 10 * 60_000;
  while (record.status !== 'succeeded' && record.status !== 'failed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    record = await client.getEvaluation(submitted.id);
    if (record.progress.done !== shown && record.progress.total !== null) {
      shown = record.progress.done;
      log(`  ${record.id}: ${record.status}, ${shown}/${record.progress.total} cases scored`);
    }
  }
  if (record.status !== 'succeeded') {
    log(`  evaluation ${record.id} ended ${record.status}: ${record.error ?? 'it did not finish within 10 minutes'}`);
    return record;
  }
  log('');
  log((await client.evaluationReport(record.id, 'markdown')).trim());
  log(`\nthe report: GET /v1/evaluations/${record.id}/reports/{markdown,yaml,csv} (also in ${join(dataDir, 'objects', 'evaluations', record.id)})`);
  return record;
}

/** Writes the evaluation's held-out skulls under `<dataDir>/data/skulls` (once). */
function writeEvaluationSkulls(): string {
  const root = join(dataDir, 'data');
  if (!existsSync(join(root, 'skulls'))) {
    const script = [
      'from pathlib import Path',
      'from hounsfield.data.synthetic_skulls import generate_skullbreak',
      `generate_skullbreak(Path(${JSON.stringify(join(root, 'skulls'))}), ${DEMO_EVALUATION_SKULLS.subjects}, shape=(${DEMO_SYNTHETIC.shape},) * 3, seed=${DEMO_EVALUATION_SKULLS.seed})`,
    ].join('\n');
    const made = spawnSync(pythonExecutable(), ['-c', script], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`the demo's evaluation skulls were not written: ${made.stderr}`);
  }
  return root;
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

  try {
    const workerId = process.env.HOUNSFIELD_WORKER_ID ?? 'local';
    const dataRoots = demo ? { HOUNSFIELD_DATA_ROOTS: process.env.HOUNSFIELD_DATA_ROOTS ?? writeEvaluationSkulls() } : undefined;
    stack.startWorker({ workerId, fakeGpus: process.env.HOUNSFIELD_FAKE_GPUS, env: dataRoots });
    const client = new HounsfieldClient({ baseUrl: stack.gatewayUrl, token: stack.adminToken });
    await waitForWorker(client, workerId);
    log(`gateway: ${stack.gatewayUrl}   (API docs: ${stack.gatewayUrl}/docs)`);
    log(`token:   ${stack.adminTokenFile}   (the admin's API token; the \`hounsfield\` command reads it from there)`);
    log(`logs:    ${join(dataDir, 'logs')}`);
    log(`metrics: http://127.0.0.1:${stack.portOf('metrics')}/metrics   (Prometheus exposition; deploy/prometheus scrapes it, deploy/grafana has the dashboards)`);

    if (demo) {
      const ok = await runDemo(client);
      log('\nwhere to look next:');
      log(`  npm start                                   keep the stack running (gateway ${stack.gatewayUrl})`);
      log(`  gpu-workers/.venv/bin/hounsfield list       jobs, newest first (pip install ./clients/python for your own shell)`);
      log(`  gpu-workers/.venv/bin/hounsfield submit my-spec.yaml   submit a job and follow it`);
      log(`  ${join(dataDir, 'workers', workerId)}   each attempt's log and outputs`);
      await stop(ok ? 0 : 1);
    } else {
      log('running; press Ctrl-C to stop');
    }
  } catch (error) {
    // Nothing is left behind: every process this script started goes with it.
    console.error(error instanceof Error ? error.message : error);
    await stop(1);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
