/**
 * Chaos soak, run by hand (not part of `npm test`): N training jobs on a local stack while one
 * random platform process is killed with SIGKILL every P seconds for T minutes and started again
 * the way a supervisor would (the worker agent, a trainer rank, each service, NATS, Redis). Then it
 * waits for the jobs to end and prints a summary: jobs succeeded to their last step, attempts,
 * orphan trainer processes, GPU leases and active jobs still held, and duplicate attempts (two
 * attempts of one job running at the same moment, sampled every second).
 *
 *   npm run soak -- --jobs 10 --every 40 --minutes 15
 *   npm run soak -- --jobs 4 --every 40 --minutes 5 --kind count      (a light job, for a quick look)
 *
 * Options: --jobs N (10), --every P seconds (40), --minutes T (15), --steps S (120),
 * --checkpoint-every C (20), --processes K (2, DDP processes per job), --victims a,b (every kind:
 * agent, trainer-rank, gateway, scheduler, checkpoints, metrics, evaluation, nats, redis), --kind pcdiff|count (pcdiff:
 * the cpu-tiny preset on synthetic skulls), --drain-minutes D (30: how long to wait for the jobs
 * after the chaos), --seed X, --keep (keep the data directory). Exits 0 when every job succeeded to
 * its last step with no orphan, lease or duplicate left, else 1.
 * --max-restarts R (3: each job's `maxRestarts`) and --order random|cycle (random: a random victim
 * each time; cycle: the --victims in the order given, round and round) make the fault-injection run
 * of issue #19 item 10(a) — one 240-step job, Redis and the checkpoint service killed once each, no
 * restart allowed — repeatable:
 *
 *   for i in $(seq 20); do npm run soak -- --jobs 1 --steps 240 --max-restarts 0 \
 *     --victims redis,checkpoints --order cycle --every 20 --minutes 0.75 || break; done
 */
import { HounsfieldClient } from '@hounsfield/client';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack, ServiceName } from '@hounsfield/testing';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10' },
    every: { type: 'string', default: '40' },
    minutes: { type: 'string', default: '15' },
    steps: { type: 'string', default: '120' },
    'checkpoint-every': { type: 'string', default: '20' },
    processes: { type: 'string', default: '2' },
    kind: { type: 'string', default: 'pcdiff' },
    'max-restarts': { type: 'string', default: '3' },
    order: { type: 'string', default: 'random' },
    'drain-minutes': { type: 'string', default: '30' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    victims: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`--${name} must be a positive number (got ${value})`);
  return number;
}

const JOBS = positive('jobs', opts.jobs);
const EVERY_S = positive('every', opts.every);
const MINUTES = positive('minutes', opts.minutes);
const STEPS = positive('steps', opts.steps);
const CHECKPOINT_EVERY = positive('checkpoint-every', opts['checkpoint-every']);
const PROCESSES = positive('processes', opts.processes);
const DRAIN_MINUTES = positive('drain-minutes', opts['drain-minutes']);
const MAX_RESTARTS = Number(opts['max-restarts']);
if (!Number.isInteger(MAX_RESTARTS) || MAX_RESTARTS < 0 || MAX_RESTARTS > 20) throw new Error(`--max-restarts must be an integer from 0 to 20 (got ${opts['max-restarts']})`);
if (opts.order !== 'random' && opts.order !== 'cycle') throw new Error(`--order must be random or cycle (got ${opts.order})`);
if (opts.kind !== 'pcdiff' && opts.kind !== 'count') throw new Error(`--kind must be pcdiff or count (got ${opts.kind})`);
const WORKER = 'soak';
const SERVICES: ServiceName[] = ['gateway', 'scheduler', 'checkpoints', 'metrics', 'evaluation'];
type Victim = 'agent' | 'trainer-rank' | ServiceName | 'nats' | 'redis';
const ALL_VICTIMS: Victim[] = ['agent', 'trainer-rank', ...SERVICES, 'nats', 'redis'];
const VICTIMS: Victim[] = opts.victims === undefined ? ALL_VICTIMS : opts.victims.split(',').map((v) => v.trim() as Victim);
for (const victim of VICTIMS) if (!ALL_VICTIMS.includes(victim)) throw new Error(`--victims: ${victim} is not one of ${ALL_VICTIMS.join(', ')}`);

/** A small deterministic generator, so a run can be repeated with --seed. */
let state = positive('seed', opts.seed) >>> 0 || 1;
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
}

function log(message: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(i: number): TrainingJobSpecInput {
  const common = { resources: { gpus: 0, cpuProcesses: PROCESSES }, maxRestarts: MAX_RESTARTS };
  if (opts.kind === 'count') {
    return { name: `soak-${i}`, kind: 'script', script: { module: 'hounsfield.examples.count', args: ['--steps', String(STEPS), '--sleep', '0.5'] }, hyperparameters: { globalBatch: 8, baseLr: 1e-3 }, ...common };
  }
  return {
    name: `soak-${i}`,
    kind: 'pcdiff',
    hyperparameters: { globalBatch: 8, baseLr: 1e-3, maxSteps: STEPS },
    config: { preset: 'cpu-tiny', synthetic: { subjects: 4, shape: 48 }, logEvery: 10, checkpointEvery: CHECKPOINT_EVERY },
    ...common,
  };
}

interface Proc {
  pid: number;
  ppid: number;
  args: string;
}

function processes(): Proc[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null && !m[3].startsWith('Z'))
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[4] }));
}

/** Running trainer supervisors of this stack's worker: `jobs/<job>/attempt-<n>` → pid. */
function supervisors(dataDir: string): { jobId: string; attempt: number; pid: number }[] {
  const prefix = join(dataDir, 'workers', WORKER, 'jobs');
  return processes()
    .filter((p) => p.args.includes('hounsfield.worker.supervisor') && p.args.includes(prefix))
    .map((p) => {
      const m = p.args.match(/jobs\/([^/]+)\/attempt-(\d+)\/exit\.json/);
      return m ? { jobId: m[1], attempt: Number(m[2]), pid: p.pid } : undefined;
    })
    .filter((s): s is { jobId: string; attempt: number; pid: number } => s !== undefined);
}

/** A rank: a child of a launcher that is a child of one of our supervisors. */
function trainerRanks(dataDir: string): number[] {
  const all = processes();
  const roots = new Set(supervisors(dataDir).map((s) => s.pid));
  const launchers = new Set(all.filter((p) => roots.has(p.ppid)).map((p) => p.pid));
  return all.filter((p) => launchers.has(p.ppid)).map((p) => p.pid);
}

async function kill(stack: LocalStack, victim: Victim, dataDir: string): Promise<string> {
  switch (victim) {
    case 'agent':
      await stack.workers.get(WORKER)?.kill();
      stack.startWorker({ workerId: WORKER });
      return 'worker agent killed and started again';
    case 'trainer-rank': {
      const ranks = trainerRanks(dataDir);
      if (ranks.length === 0) return 'no trainer rank running; nothing killed';
      const pid = ranks[Math.floor(random() * ranks.length)];
      process.kill(pid, 'SIGKILL');
      return `trainer rank ${pid} killed (the platform retries the attempt)`;
    }
    case 'nats':
    case 'redis':
      await stack.killAndRestartServer(victim);
      return `${victim} killed and started again`;
    default:
      await stack.services.get(victim)?.kill();
      await stack.startService(victim);
      return `${victim} killed and started again`;
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-soak-'));
  log(`chaos soak: ${JOBS} ${opts.kind} job(s) of ${PROCESSES} process(es), ${STEPS} steps; a SIGKILL every ${EVERY_S} s for ${MINUTES} min; maxRestarts ${MAX_RESTARTS}; victims ${VICTIMS.join(',')} (${opts.order}); seed ${opts.seed}; data ${dataDir}`);
  const stack = await LocalStack.start({ dataDir, env: { HOUNSFIELD_LOG_LEVEL: 'warn' } });
  const client = () => new HounsfieldClient({ baseUrl: stack.gatewayUrl, token: stack.adminToken });
  let exitCode: number;
  try {
    stack.startWorker({ workerId: WORKER });
    await until('the worker to register', async () => ((await client().listWorkers()).some((w) => w.workerId === WORKER) ? true : undefined), 120_000);
    const jobs: JobRecord[] = [];
    for (let i = 0; i < JOBS; i += 1) jobs.push(await client().submitJob(spec(i)));
    log(`submitted ${jobs.length} job(s)`);

    // Duplicates: two attempts of one job alive at the same moment.
    const duplicates = new Set<string>();
    const sampler = setInterval(() => {
      const byJob = new Map<string, Set<number>>();
      for (const s of supervisors(dataDir)) byJob.set(s.jobId, (byJob.get(s.jobId) ?? new Set()).add(s.attempt));
      for (const [jobId, attempts] of byJob) if (attempts.size > 1) duplicates.add(`${jobId} attempts ${[...attempts].sort().join('+')}`);
    }, 1_000);

    const kills: Record<string, number> = {};
    const chaosEnd = Date.now() + MINUTES * 60_000;
    for (let round = 0; Date.now() + EVERY_S * 1000 <= chaosEnd; round += 1) {
      await sleep(EVERY_S * 1000);
      const victim = opts.order === 'cycle' ? VICTIMS[round % VICTIMS.length] : VICTIMS[Math.floor(random() * VICTIMS.length)];
      try {
        log(await kill(stack, victim, dataDir));
        kills[victim] = (kills[victim] ?? 0) + 1;
      } catch (error) {
        log(`killing ${victim} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    log(`chaos over (${Object.values(kills).reduce((a, b) => a + b, 0)} kills); waiting up to ${DRAIN_MINUTES} min for the jobs to end`);
    const finals = await until(
      'every job to end',
      async () => {
        const records = await Promise.all(jobs.map((j) => client().getJob(j.id).catch(() => undefined)));
        return records.every((r) => r && ['succeeded', 'failed', 'cancelled'].includes(r.state)) ? (records as JobRecord[]) : undefined;
      },
      DRAIN_MINUTES * 60_000,
    ).catch(async () => Promise.all(jobs.map((j) => client().getJob(j.id))));
    clearInterval(sampler);
    await sleep(5_000); // the agent stops what is no longer current within a heartbeat or two

    // The last step a job reached over all its attempts (an attempt that resumed from the final
    // checkpoint reports no progress of its own), from the metrics service's stored series.
    const lastStep = new Map<string, number>();
    for (const job of finals) {
      const metrics = await client().jobMetrics(job.id).catch(() => undefined);
      const steps = (metrics?.series ?? []).flatMap((series) => series.points.map((p) => p.step));
      lastStep.set(job.id, Math.max(job.lastProgress?.step ?? 0, ...steps));
    }
    const succeeded = finals.filter((j) => j.state === 'succeeded' && lastStep.get(j.id) === STEPS);
    const orphans = supervisors(dataDir);
    const workers = await client().listWorkers();
    const leases = workers.flatMap((w) => w.gpus.filter((g) => g.leasedBy)).length;
    const active = workers.flatMap((w) => w.activeJobs).length;
    const attempts = finals.reduce((sum, j) => sum + j.attempt, 0);
    const summary = [
      `jobs succeeded to their last step: ${succeeded.length}/${finals.length}`,
      `attempts: ${attempts} (${finals.map((j) => `${j.spec.name}:${j.attempt}`).join(' ')})`,
      `kills: ${Object.entries(kills).map(([k, n]) => `${k}×${n}`).join(' ') || 'none'}`,
      `orphan trainers: ${orphans.length}${orphans.length ? ` (${orphans.map((o) => `${o.jobId}#${o.attempt} pid ${o.pid}`).join(', ')})` : ''}`,
      `leases held: ${leases}; active jobs held by workers: ${active}`,
      `duplicate attempts: ${duplicates.size}${duplicates.size ? ` (${[...duplicates].join(', ')})` : ''}`,
    ];
    for (const j of finals.filter((f) => !succeeded.includes(f))) summary.push(`  not succeeded: ${j.spec.name} ${j.state} at step ${lastStep.get(j.id) ?? 0}: ${j.reason ?? ''}`);
    log(`summary\n  ${summary.join('\n  ')}`);
    exitCode = succeeded.length === finals.length && orphans.length === 0 && leases === 0 && active === 0 && duplicates.size === 0 ? 0 : 1;
  } finally {
    await stack.stop();
    if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(1_000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
