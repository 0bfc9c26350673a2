import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobRecordSchema } from '@hounsfield/contracts';
import { LocalStack, VENV_BIN } from '@hounsfield/testing';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
    fixture = await withRegisteredWorker(fixtureOf(stack, dataDir), { workerId: 'code-node', env: { PIP_NO_INDEX: '1' } });
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

  it('from another machine, the CLI downloads a checkpoint through the gateway and verifies it', async () => {
    const [job] = (await fixture.client.listJobs('succeeded')).filter((j) => j.spec.name === 'own-code');
    const out = mkdtempSync(join(tmpdir(), 'hf-e2e-download-'));
    const done = await cli(fixture, out, ['checkpoints', 'download', `${job.id}:latest`, '--out', out, '--json']);
    const printed = JSON.parse(done.stdout) as { checkpoint: string; path: string; files: string[] };
    expect(printed.files).toContain('model.safetensors');
    expect(statSync(join(printed.path, 'model.safetensors')).size).toBeGreaterThan(0);
  }, 120_000);
});
