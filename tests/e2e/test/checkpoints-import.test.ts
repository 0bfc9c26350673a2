import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { checkpointImportSchema } from '@hounsfield/contracts';
import { VENV_BIN } from '@hounsfield/testing';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadFile, listCheckpoints, python, readSafetensors, REPO_ROOT, run, startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

/**
 * Writes the legacy files with gpu-workers/tests/checkpoints/legacy_files.py (see there how a
 * `cuda:7` tag is written without a GPU) and prints each weight's sum, to compare after import.
 */
const WRITE_LEGACY_FILES = `
import json, sys
from pathlib import Path
import torch
from torch import nn
from checkpoints.legacy_files import write_cuda_pth, write_lightning_ckpt

class Unsafe:
    pass

out = Path(sys.argv[1])
pth_model, _ = write_cuda_pth(out / "epoch12.pth")
ckpt_model, _ = write_lightning_ckpt(out / "last.ckpt")
torch.save({"model": nn.Linear(2, 2).state_dict(), "note": Unsafe()}, out / "unsafe.pth")
sums = lambda model, prefix="": {prefix + k: float(v.double().sum()) for k, v in model.state_dict().items()}
print(json.dumps({"pth": sums(pth_model), "ckpt": sums(ckpt_model, "model.")}))
`;

function sums(tensors: Map<string, Float32Array>): Record<string, number> {
  return Object.fromEntries([...tensors].map(([name, values]) => [name, values.reduce((a, b) => a + b, 0)]));
}

describe('legacy import on a machine without GPUs: .pth from GPU 7 of 8 over HTTP, Lightning .ckpt by the CLI', () => {
  let fixture: Fixture;
  let expected: { pth: Record<string, number>; ckpt: Record<string, number> };

  beforeAll(async () => {
    fixture = await startCheckpointStack('import-node');
    const written = await run(python(), ['-c', WRITE_LEGACY_FILES, fixture.dataDir], { cwd: join(REPO_ROOT, 'gpu-workers/tests') });
    expected = JSON.parse(written.stdout);
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  async function postImport(fileName: string): Promise<Response> {
    return fixture.api(`/v1/checkpoints/import?fileName=${fileName}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: await readFile(join(fixture.dataDir, fileName)),
    });
  }

  it('POST /v1/checkpoints/import turns a CUDA-tagged .pth into a CPU checkpoint', async () => {
    const response = await postImport('epoch12.pth');
    expect(response.status).toBe(202);
    const accepted = checkpointImportSchema.parse(await response.json());
    const job = await fixture.client.waitForState(accepted.jobId, ['succeeded', 'failed'], 120_000);
    expect(job.state).toBe('succeeded');

    const [checkpoint] = await listCheckpoints(fixture, accepted.jobId);
    expect(checkpoint).toMatchObject({ step: 3400, epoch: 12 });
    expect(checkpoint.meta.source).toMatchObject({ kind: 'pth', file: 'epoch12.pth', devices: ['cuda:7'] });
    expect(checkpoint.files.map((f) => f.name).sort()).toEqual(['legacy.pt', 'meta.json', 'model.safetensors', 'optimizer.pt']);
    const weights = sums(readSafetensors(await downloadFile(fixture, `${accepted.jobId}:latest`, 'model.safetensors')));
    for (const [name, sum] of Object.entries(expected.pth)) expect(weights[name]).toBeCloseTo(sum, 4);

    // Download grants for tools that fetch parts themselves; unknown references are 404 problems.
    const grants = (await (await fixture.api(`/v1/checkpoints/${checkpoint.id}/download`)).json()) as {
      files: { name: string; parts: { size: number; grant: { kind: string; path?: string } }[] }[];
    };
    const model = grants.files.find((f) => f.name === 'model.safetensors');
    expect(model?.parts.every((p) => p.grant.kind === 'path' && p.grant.path?.startsWith(fixture.dataDir))).toBe(true);
    const missing = await fixture.api(`/v1/checkpoints/${accepted.jobId}:best:psnr:max`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('`hounsfield checkpoints import` turns a Lightning .ckpt into a checkpoint', async () => {
    const done = await run(
      join(VENV_BIN, 'hounsfield'),
      ['checkpoints', 'import', join(fixture.dataDir, 'last.ckpt'), '--timeout', '120', '--json'],
      { cwd: REPO_ROOT, env: { ...process.env, HOUNSFIELD_URL: fixture.stack.gatewayUrl, HOUNSFIELD_TOKEN: fixture.stack.adminToken } },
    );
    const printed = JSON.parse(done.stdout) as { import: { jobId: string }; checkpoint: { id: string; step: number; epoch: number } };
    expect(printed.checkpoint).toMatchObject({ step: 1250, epoch: 4 });
    const [checkpoint] = await listCheckpoints(fixture, printed.import.jobId);
    expect(checkpoint.id).toBe(printed.checkpoint.id);
    expect(checkpoint.meta.source).toMatchObject({ kind: 'lightning', file: 'last.ckpt', devices: ['cuda:0'] });
    expect(checkpoint.files.map((f) => f.name).sort()).toEqual(['lightning.pt', 'lr_scheduler.pt', 'meta.json', 'model.safetensors', 'optimizer.pt']);
    const weights = sums(readSafetensors(await downloadFile(fixture, checkpoint.id, 'model.safetensors')));
    for (const [name, sum] of Object.entries(expected.ckpt)) expect(weights[name]).toBeCloseTo(sum, 4);
  });

  it('refuses a file that needs arbitrary pickled objects, and says how to import one that is trusted', async () => {
    const accepted = checkpointImportSchema.parse(await (await postImport('unsafe.pth')).json());
    const job = await fixture.client.waitForState(accepted.jobId, ['succeeded', 'failed'], 120_000);
    expect(job.state).toBe('failed');
    expect(job.logTail?.join('\n')).toContain('--trust-pickled');
    expect(await listCheckpoints(fixture, accepted.jobId)).toEqual([]);
  });

  it('answers a missing Content-Length or file name with 400 naming the field', async () => {
    const response = await fixture.api(`/v1/checkpoints/import`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ path: 'fileName' }] });
  });
});
