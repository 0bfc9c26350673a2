import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobRecordSchema } from '@hounsfield/contracts';
import { LocalStack, VENV_BIN } from '@hounsfield/testing';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { python, run } from './checkpoints-fixture';
import { FAST_ENV, Fixture, fixtureOf, withRegisteredWorker } from './stack-fixture';

/** The user's module: imports a package only its per-job environment has, reports, saves a checkpoint. */
const TRAIN = `
import hf_fixture_pkg, torch
from hounsfield.sdk import Run

run = Run.from_env()
print("fixture", hf_fixture_pkg.VALUE, "from", hf_fixture_pkg.__file__, flush=True)
for step in range(1, 4):
    run.report(step, {"loss": 1.0 / step}, total_steps=3)
run.save_checkpoint({"model": {"w": torch.full((4,), float(hf_fixture_pkg.VALUE))}}, 3, metrics={"loss": 1 / 3})
run.close()
`;

/** The `hounsfield` command of the client package, from a directory that is no checkout (no .hounsfield/, no shared disk). */
function cli(fixture: Fixture, cwd: string, args: string[], timeout = 240_000) {
  return run(join(VENV_BIN, 'hounsfield'), args, {
    cwd,
    timeout,
    env: { PATH: process.env.PATH, HOME: cwd, HOUNSFIELD_URL: fixture.stack.gatewayUrl, HOUNSFIELD_TOKEN: fixture.stack.adminToken },
  });
}

function codeObjects(fixture: Fixture): { name: string; mtimeMs: number }[] {
  const dir = join(fixture.dataDir, 'objects', 'code');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.tar'))
    .map((name) => ({ name, mtimeMs: statSync(join(dir, name)).mtimeMs }));
}

/** Processes whose command line runs pip on a requirements file under `dir` (a worker's environment builds). */
function pipProcessesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let command: string;
    try {
      command = readFileSync(join('/proc', pid, 'cmdline'), 'utf8').split('\0').join(' ');
    } catch {
      continue; // ended meanwhile
    }
    if (command.includes(' pip ') && command.includes(dir)) found.push(`${pid}: ${command}`);
  }
  return found;
}

describe('bring your own code: hounsfield submit --code with a per-job environment', () => {
  let fixture: Fixture;
  let home: string;
  let project: string;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-code-'));
    const stack = await LocalStack.start({
      dataDir,
      env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects') },
    });
    // The worker's pip never goes online in a test: local files only.
    // Two simulated GPUs: GPU script jobs build their environment before any GPU is leased.
    fixture = await withRegisteredWorker(fixtureOf(stack, dataDir), { workerId: 'code-node', fakeGpus: '2', env: { PIP_NO_INDEX: '1' } });
    home = mkdtempSync(join(tmpdir(), 'hf-e2e-user-'));
    // A small local package for requirements.txt (built offline; the worker's pip never goes online).
    const pkg = join(home, 'pkg');
    mkdirSync(join(pkg, 'hf_fixture_pkg'), { recursive: true });
    writeFileSync(join(pkg, 'hf_fixture_pkg', '__init__.py'), 'VALUE = 42\n');
    writeFileSync(join(pkg, 'pyproject.toml'), '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "hf-fixture-pkg"\nversion = "1.0"\n');
    await run(python(), ['-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', join(home, 'wheels'), pkg]);
    const wheel = join(home, 'wheels', readdirSync(join(home, 'wheels'))[0]);
    project = join(home, 'my_project');
    mkdirSync(join(project, 'my_lab'), { recursive: true });
    mkdirSync(join(project, 'outputs'));
    writeFileSync(join(project, 'my_lab', '__init__.py'), '');
    writeFileSync(join(project, 'my_lab', 'train.py'), TRAIN);
    writeFileSync(join(project, 'requirements.txt'), `${wheel}\n`);
    writeFileSync(join(project, '.gitignore'), 'outputs/\n');
    writeFileSync(join(project, 'outputs', 'huge.bin'), Buffer.alloc(1 << 20));
    writeFileSync(join(home, 'job.yaml'), 'name: own-code\nkind: script\nscript:\n  module: my_lab.train\nresources: {gpus: 0, cpuProcesses: 1}\nhyperparameters: {globalBatch: 4, baseLr: 0.01}\n');
    // numpy comes from the worker's installation; it makes the GPU job's requirements (and key) its own.
    writeFileSync(join(home, 'gpu.yaml'), 'name: own-code-gpu\nkind: script\nscript:\n  module: my_lab.train\nresources: {gpus: 1}\nhyperparameters: {globalBatch: 4, baseLr: 0.01}\nenvironment:\n  requirements: ["numpy"]\n');
    writeFileSync(join(home, 'broken-gpu.yaml'), 'name: broken-env-gpu\nkind: script\nscript:\n  module: my_lab.train\nresources: {gpus: 1}\nhyperparameters: {globalBatch: 4, baseLr: 0.01}\nenvironment:\n  requirements: ["hf-no-such-package-anywhere==9.9"]\n');
    writeFileSync(join(home, 'broken.yaml'), 'name: broken-env\nkind: script\nscript:\n  module: my_lab.train\nresources: {gpus: 0, cpuProcesses: 1}\nhyperparameters: {globalBatch: 4, baseLr: 0.01}\nenvironment:\n  requirements: ["hf-no-such-package-anywhere==9.9"]\n');
  }, 240_000);

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('runs the uploaded module with its requirements from the per-job environment; the same tree uploads nothing again', async () => {
    const first = await cli(fixture, home, ['submit', 'job.yaml', '--code', project, '--json']);
    const job = jobRecordSchema.parse(JSON.parse(first.stdout));
    expect(job.state).toBe('succeeded');
    const digest = (job.spec as { code?: { digest: string } }).code?.digest;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const stored = codeObjects(fixture);
    expect(stored).toHaveLength(1);
    // Content-addressed: the object's name is the sha256 of its bytes; .gitignore'd outputs stayed home.
    const bytes = readFileSync(join(fixture.dataDir, 'objects', 'code', stored[0].name));
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(digest);
    expect(bytes.length).toBeLessThan(1 << 20);

    const log = await (await fixture.api(`/v1/jobs/${job.id}/logs`)).text();
    expect(log).toMatch(/fixture 42 from \S*cache\/envs\//);

    const second = await cli(fixture, home, ['submit', 'job.yaml', '--code', project, '--detach', '--json']);
    expect(JSON.parse(second.stdout).spec.code.digest).toBe(digest);
    expect(codeObjects(fixture)).toEqual(stored);
    await fixture.client.waitForState(JSON.parse(second.stdout).id, ['succeeded', 'failed'], 180_000);
  }, 400_000);

  it('a broken requirement ends the job failed with kind environment and pip’s output, without a restart', async () => {
    const failed = await cli(fixture, home, ['submit', 'broken.yaml', '--code', project]).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain('hf-no-such-package-anywhere');
    const [record] = (await fixture.client.listJobs('failed')).filter((j) => j.spec.name === 'broken-env');
    expect(record.attempts?.map((a) => a.failureKind)).toEqual(['environment']);
    expect(record.restarts).toBe(0);
  }, 300_000);

  it('a GPU job’s environment is built before its GPUs are leased, and its attempt runs in that environment', async () => {
    const done = await cli(fixture, home, ['submit', 'gpu.yaml', '--code', project, '--json']);
    const job = jobRecordSchema.parse(JSON.parse(done.stdout));
    expect(job.state).toBe('succeeded');
    const environment = job.environment;
    expect(environment).toMatchObject({ state: 'ready', workerId: 'code-node' });
    expect(environment?.cached).toBeUndefined(); // built in the phase (its requirements are its own), not found cached
    expect(environment?.key).toMatch(/^[0-9a-f]{24}$/);
    // Ready before the only attempt was placed on a GPU.
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts?.[0].workerId).toBe('code-node');
    expect(job.gpuIndices).toEqual([expect.any(Number)]);
    expect(Date.parse(environment?.readyAt ?? '')).toBeLessThanOrEqual(Date.parse(job.attempts?.[0].assignedAt ?? ''));
    expect(job.history.map((h) => h.state)).toEqual(['queued', 'assigned', 'starting', 'running', 'succeeded']);
    // The trainer imported the fixture package from exactly the environment the phase built.
    const log = await (await fixture.api(`/v1/jobs/${job.id}/logs`)).text();
    expect(log).toContain(`fixture 42 from ${join(fixture.dataDir, 'workers', 'code-node', 'cache', 'envs', environment?.key ?? '?')}/`);
  }, 400_000);

  it('a GPU job with a broken requirement ends failed with kind environment and pip’s output before any GPU lease', async () => {
    const failed = await cli(fixture, home, ['submit', 'broken-gpu.yaml', '--code', project]).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    const [record] = (await fixture.client.listJobs('failed')).filter((j) => j.spec.name === 'broken-env-gpu');
    expect(record.reason).toContain('pip exit code');
    expect(record.reason).toContain('hf-no-such-package-anywhere');
    const last = record.history[record.history.length - 1];
    expect(last).toMatchObject({ state: 'failed', failureKind: 'environment' });
    // Never placed: no attempt, no GPUs, no worker; queued straight to failed, no restart.
    expect(record.history.map((h) => h.state)).toEqual(['queued', 'failed']);
    expect(record.attempts ?? []).toEqual([]);
    expect(record.gpuIndices).toBeUndefined();
    expect(record.workerId).toBeUndefined();
    expect(record.restarts).toBe(0);
  }, 300_000);

  it('a GPU job cancelled while pip builds its environment ends cancelled at once, and pip is killed', async () => {
    // A requirement whose download never answers: pip blocks until it is killed.
    const sockets: Socket[] = [];
    let closed = 0;
    const server: Server = createServer(() => undefined);
    server.on('connection', (socket) => {
      sockets.push(socket);
      socket.on('close', () => (closed += 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      writeFileSync(
        join(home, 'hang.yaml'),
        `name: hanging-env\nkind: script\nscript:\n  module: my_lab.train\nresources: {gpus: 1}\nhyperparameters: {globalBatch: 4, baseLr: 0.01}\nenvironment:\n  requirements: ["hf-hang @ http://127.0.0.1:${port}/hf_hang-1.0-py3-none-any.whl"]\n`,
      );
      const submitted = await cli(fixture, home, ['submit', 'hang.yaml', '--detach', '--json']);
      const id = (JSON.parse(submitted.stdout) as { id: string }).id;
      const deadline = Date.now() + 120_000;
      while (sockets.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(sockets.length).toBeGreaterThan(0); // pip is downloading
      const building = await fixture.client.getJob(id);
      expect(building.state).toBe('queued');
      expect(building.pendingReason).toContain('building its environment on code-node');
      expect(building.environment).toMatchObject({ state: 'building', workerId: 'code-node' });

      const asked = Date.now();
      await fixture.client.cancelJob(id);
      const cancelled = await fixture.client.waitForState(id, ['cancelled', 'failed', 'succeeded'], 30_000);
      expect(cancelled.state).toBe('cancelled');
      expect(Date.now() - asked).toBeLessThan(10_000);
      expect(cancelled.attempts ?? []).toEqual([]);
      // pip's process group was killed: its connection closes, and no pip of this worker is left.
      while (closed < sockets.length && Date.now() - asked < 15_000) await new Promise((r) => setTimeout(r, 200));
      expect(closed).toBe(sockets.length);
      expect(pipProcessesUnder(join(fixture.dataDir, 'workers', 'code-node'))).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 300_000);

  it('from another machine, the CLI downloads a checkpoint through the gateway and verifies it', async () => {
    const [job] = (await fixture.client.listJobs('succeeded')).filter((j) => j.spec.name === 'own-code');
    const out = mkdtempSync(join(tmpdir(), 'hf-e2e-download-'));
    const done = await cli(fixture, out, ['checkpoints', 'download', `${job.id}:latest`, '--out', out, '--json']);
    const printed = JSON.parse(done.stdout) as { checkpoint: string; path: string; files: string[] };
    expect(printed.files).toContain('model.safetensors');
    expect(statSync(join(printed.path, 'model.safetensors')).size).toBeGreaterThan(0);
  }, 120_000);
});
