import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobRecordSchema } from '@hounsfield/contracts';
import { REPO_ROOT, VENV_BIN } from '@hounsfield/testing';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listCheckpoints, run, startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

/** The rank processes of a job's trainer on this machine: `python -m train_lightning` with the job's context. */
function trainerRanks(jobId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cmdline.includes('train_lightning') && !cmdline.includes('hounsfield.worker.launcher') && !cmdline.includes('torch.distributed') && environ.includes(`/${jobId}/`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

describe('an existing Lightning script as a script job: 2 CPU ranks under torchrun, kill -9, resume at the same global step', () => {
  let fixture: Fixture;
  let home: string;

  beforeAll(async () => {
    fixture = await startCheckpointStack('lightning-node');
    home = mkdtempSync(join(tmpdir(), 'hf-e2e-lightning-'));
    writeFileSync(
      join(home, 'job.yaml'),
      [
        'name: lightning-e2e',
        'kind: script',
        'script: { module: train_lightning, args: ["--steps", "60", "--checkpoint-every", "10", "--sleep", "0.15"] }',
        'resources: { gpus: 0, cpuProcesses: 2 }',
        'hyperparameters: { globalBatch: 32, baseLr: 0.05 }',
        'maxRestarts: 1',
        'checkpoint: { keepLast: 20 }',
        '',
      ].join('\n'),
    );
  }, 240_000);

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('reports, checkpoints through the platform, and the next attempt resumes from the platform checkpoint', async () => {
    const submitted = await run(join(VENV_BIN, 'hounsfield'), ['submit', 'job.yaml', '--code', join(REPO_ROOT, 'examples/lightning'), '--detach', '--json'], {
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home, HOUNSFIELD_URL: fixture.stack.gatewayUrl, HOUNSFIELD_TOKEN: fixture.stack.adminToken },
    });
    const jobId = jobRecordSchema.parse(JSON.parse(submitted.stdout)).id;

    // Wait for a committed checkpoint of the first attempt, then kill -9 the trainer's ranks.
    const deadline = Date.now() + 240_000;
    while ((await listCheckpoints(fixture, jobId)).length === 0) {
      if (Date.now() > deadline) throw new Error(`no checkpoint of ${jobId}: ${JSON.stringify(await fixture.client.getJob(jobId))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const ranks = trainerRanks(jobId);
    expect(ranks).toHaveLength(2);
    for (const pid of ranks) process.kill(pid, 'SIGKILL');

    const job = await fixture.client.waitForState(jobId, ['succeeded', 'failed'], 300_000);
    expect(job.state).toBe('succeeded');
    expect(job.attempts?.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(job.lastProgress).toMatchObject({ step: 60, totalSteps: 60 });
    expect(Object.keys(job.lastProgress?.metrics ?? {})).toContain('loss');
    // The hyperparameters the module saved arrive as a notice on the job (workers publish notices).
    expect(job.notices?.find((n) => n.kind === 'hyperparameters')?.message).toContain('lr=0.05');

    const checkpoints = await listCheckpoints(fixture, jobId);
    const resumedFrom = Math.max(...checkpoints.filter((c) => c.attempt === 1).map((c) => c.step));
    const secondLog = await (await fixture.api(`/v1/jobs/${jobId}/logs?attempt=2&rank=0`)).text();
    expect(secondLog).toContain(`training starts at global_step=${resumedFrom}`);
    expect(checkpoints.find((c) => c.step === 60)?.files.map((f) => f.name)).toEqual(expect.arrayContaining(['model.safetensors', 'meta.json']));
  }, 600_000);
});
