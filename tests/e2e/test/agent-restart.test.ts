import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fixture, startFixture, startRegisteredWorker } from './stack-fixture';

/**
 * Training survives its worker agent: an agent killed (or restarted) within the scheduler's
 * reconnect window re-adopts its running trainers; one that stays away longer finds its jobs
 * requeued elsewhere and stops its old trainers when it returns. CPU jobs take CPU slots.
 * Timings here: heartbeat 1 s, TTL 6 s, reconnect window 10 s (FAST_ENV).
 */

/** A 2-process CPU count job (torchrun with two ranks, rank 0 reports progress). */
function count(name: string, args: string[], patch: Partial<TrainingJobSpecInput> = {}): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module: 'hounsfield.examples.count', args },
    resources: { gpus: 0, cpuProcesses: 2 },
    hyperparameters: { globalBatch: 8, baseLr: 0.001 },
    ...patch,
  };
}

interface Launch {
  pid: number;
  start_ticks: number;
}

/** The pids of a process and everything below it, from `ps`. */
function tree(root: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,stat='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , stat]) => !stat.startsWith('Z'))
    .map(([pid, ppid]) => [Number(pid), Number(ppid)] as const);
  const found = [root];
  for (let i = 0; i < found.length; i += 1) for (const [pid, ppid] of rows) if (ppid === found[i]) found.push(pid);
  return found.filter((pid) => rows.some(([p]) => p === pid)).sort((a, b) => a - b);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('training survives worker agent restarts (real stack, real Python agents)', () => {
  let fixture: Fixture;
  const attemptDir = (workerId: string, job: JobRecord, attempt = 1) => join(fixture.dataDir, 'workers', workerId, 'jobs', job.id, `attempt-${attempt}`);
  const launchOf = (workerId: string, job: JobRecord): Launch => JSON.parse(readFileSync(join(attemptDir(workerId, job), 'launch.json'), 'utf8')) as Launch;
  const agent = (workerId: string) => fixture.stack.workers.get(workerId);
  const restart = (workerId: string, env: NodeJS.ProcessEnv = {}) => fixture.stack.startWorker({ workerId, env });

  /** Stops a worker (draining) and waits until the scheduler no longer lists it, so the next scenario has the stack to itself. */
  async function retire(workerId: string): Promise<void> {
    await agent(workerId)?.stop(15_000);
    await until(`${workerId} to leave the pool`, async () => ((await fixture.client.listWorkers()).some((w) => w.workerId === workerId) ? undefined : true), 60_000);
  }

  beforeAll(async () => {
    fixture = await startFixture();
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('re-adopts a running 2-process job after its agent is SIGKILLed and restarted: same attempt, same pids, no step repeated', async () => {
    await startRegisteredWorker(fixture, { workerId: 'phoenix' });
    const job = await fixture.client.submitJob(count('phoenix', ['--steps', '40', '--sleep', '0.25']));
    await until('progress past step 5', async () => ((await fixture.client.getJob(job.id)).lastProgress?.step ?? 0) > 5 || undefined);
    const launch = launchOf('phoenix', job);
    const before = tree(launch.pid);
    expect(before.length).toBeGreaterThanOrEqual(4); // supervisor, torchrun, two ranks

    await agent('phoenix')?.kill();
    await sleep(2_000);
    expect(tree(launch.pid)).toEqual(before);
    restart('phoenix');
    const stepAtReturn = (await fixture.client.getJob(job.id)).lastProgress?.step ?? 0;

    const final = await fixture.client.waitForState(job.id, ['succeeded', 'failed', 'cancelled'], 180_000);
    expect(final).toMatchObject({ state: 'succeeded', attempt: 1, workerId: 'phoenix', restarts: 0 });
    expect(launchOf('phoenix', job)).toEqual(launch);
    expect(final.lastProgress?.step).toBe(40);
    expect(stepAtReturn).toBeLessThan(40); // progress continued after the new agent took over
    const loss = (await fixture.client.jobMetrics(job.id, { names: ['loss'] })).series[0];
    expect(loss.points.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(loss.points.every((p) => p.count === 1 && p.attempt === 1)).toBe(true);
    await retire('phoenix');
  });

  it.each([
    ['succeeded', 0],
    ['failed', 137],
  ] as const)('reports the real outcome of a trainer that ended while its agent was down (%s)', async (outcome, exitCode) => {
    const workerId = `lazarus-${outcome}`;
    await startRegisteredWorker(fixture, { workerId });
    const job = await fixture.client.submitJob(count(workerId, ['--steps', '20', '--sleep', '0.3']));
    // Near its end, so the agent is away for as short a time as the trainer takes to finish: the
    // test is about an end nobody watched, not about the reconnect window (10 s here), which a
    // loaded machine's agent start-up could otherwise outlast.
    await until('progress', async () => ((await fixture.client.getJob(job.id)).lastProgress?.step ?? 0) >= 14 || undefined);
    const launch = launchOf(workerId, job);
    await agent(workerId)?.kill();
    if (outcome === 'failed') {
      // A rank dies while nobody watches (the out-of-memory killer, say).
      process.kill(Math.max(...tree(launch.pid)), 'SIGKILL');
    }
    await until('the supervisor to record the end', () => (existsSync(join(attemptDir(workerId, job), 'exit.json')) ? true : undefined));
    restart(workerId);

    const final = await fixture.client.waitForState(job.id, ['succeeded', 'failed', 'cancelled'], 120_000);
    expect(final).toMatchObject({ state: outcome, attempt: 1, exitCode, restarts: 0 });
    if (outcome === 'failed') expect(final.reason).toContain('SIGKILL');
    await retire(workerId);
  });

  it('requeues the job elsewhere when the agent stays away past the window, and stops the old trainers on its return', async () => {
    await startRegisteredWorker(fixture, { workerId: 'wanderer' });
    const job = await fixture.client.submitJob(count('wanderer', ['--steps', '400', '--sleep', '0.25'], { maxRestarts: 0 }));
    await until('progress', async () => ((await fixture.client.getJob(job.id)).lastProgress?.step ?? 0) >= 2 || undefined);
    const launch = launchOf('wanderer', job);
    const oldTrainers = tree(launch.pid);
    await agent('wanderer')?.kill();

    const waiting = await until('the worker-lost notice', async () => {
      const record = await fixture.client.getJob(job.id);
      return record.notices?.some((n) => n.kind === 'worker_lost') ? record : undefined;
    });
    expect(waiting).toMatchObject({ state: 'running', attempt: 1, workerId: 'wanderer' });
    await startRegisteredWorker(fixture, { workerId: 'heir' });
    const moved = await until('the requeue on heir', async () => {
      const record = await fixture.client.getJob(job.id);
      return record.attempt === 2 && record.workerId === 'heir' && record.state === 'running' ? record : undefined;
    }, 90_000);
    expect(moved.restarts).toBe(0);
    expect(moved.history.some((h) => /did not come back within 10 s/.test(h.reason ?? ''))).toBe(true);

    // The old agent returns: its trainer of attempt 1 is stopped before it takes any work.
    restart('wanderer');
    await until('the old trainers to be stopped', () => (oldTrainers.every((pid) => !tree(pid).includes(pid)) ? true : undefined), 60_000);
    const still = await fixture.client.getJob(job.id);
    expect(still).toMatchObject({ attempt: 2, workerId: 'heir', state: 'running' });
    await fixture.client.cancelJob(job.id, 5);
    await fixture.client.waitForState(job.id, ['cancelled']);
    await Promise.all([retire('wanderer'), retire('heir')]);
  });

  it('runs six 2-process CPU jobs one at a time on a worker with 2 CPU slots, the others pending on CPU slots', async () => {
    await startRegisteredWorker(fixture, { workerId: 'narrow', env: { HOUNSFIELD_CPU_SLOTS: '2' } });
    const jobs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => fixture.client.submitJob(count(`slot-${i}`, ['--steps', '3', '--sleep', '0.2']))));
    let mostAtOnce = 0;
    const reasons = new Set<string>();
    await until(
      'all six to finish',
      async () => {
        const records = await Promise.all(jobs.map((j) => fixture.client.getJob(j.id)));
        mostAtOnce = Math.max(mostAtOnce, records.filter((r) => ['assigned', 'starting', 'running'].includes(r.state)).length);
        for (const r of records) if (r.state === 'queued' && r.pendingReason) reasons.add(r.pendingReason);
        return records.every((r) => r.state === 'succeeded') ? records : undefined;
      },
      200_000,
    );
    expect(mostAtOnce).toBe(1);
    expect([...reasons].some((r) => /CPU slot/.test(r) && /of 2 CPU slots on narrow/.test(r))).toBe(true);
    await retire('narrow');
  });
});
