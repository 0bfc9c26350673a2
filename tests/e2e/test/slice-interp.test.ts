import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints } from './checkpoints-fixture';
import { Fixture, startDataStack, startRegisteredWorker } from './stack-fixture';

/** A cpu-tiny VAE weights file with one key misspelt, for the preflight check. */
const WRONG_VAE = (data: string) =>
  [
    'from pathlib import Path',
    'from safetensors.torch import save_file',
    'from hounsfield.recipes.slice_interp.vae import FrozenVAE',
    `root = Path(${JSON.stringify(data)})`,
    'root.mkdir(parents=True, exist_ok=True)',
    "state = FrozenVAE('cpu-tiny', seed=3).module.state_dict()",
    "state['encoder.blocks.1.conv1.conv.conv.weihgt'] = state.pop('encoder.blocks.1.conv1.conv.conv.weight')",
    "save_file(state, str(root / 'vae-wrong.safetensors'))",
  ].join('\n');

const VAL_METRICS = ['val.psnr', 'val.ssim', 'val.psnr_trilinear', 'val.ssim_trilinear'];

/**
 * Issue #14 on the real stack: a slice_interp cpu-tiny job (CT phantoms, random VAE weights) trains
 * the denoiser only, says how many parameters are trainable and frozen and that the VAE is random,
 * validates every 2 steps and at the end against trilinear interpolation, and checkpoints the
 * denoiser with the VAE's hash; a VAE file with a wrong key fails before training, naming the key,
 * and a GPU job's is refused on a worker's CPU before any GPU is leased.
 */
describe('a slice_interp job on the stack', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startDataStack({ prefix: 'hf-e2e-si-', workerId: 'si-node', python: WRONG_VAE });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('trains with validation events and checkpoints holding the denoiser and the VAE hash', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'slice-interp-tiny',
      kind: 'slice_interp',
      resources: { gpus: 0 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 4 },
      checkpoint: { everySteps: 2, keepBest: { metric: 'val.psnr', mode: 'max' } },
      config: {
        preset: 'cpu-tiny',
        synthetic: { subjects: 3, shape: 32 },
        pairs: { pairsPerCase: 1 },
        diffusion: { ddimSteps: 2 },
        logEvery: 2,
        validation: { everySteps: 2, maxCases: 1 },
      },
    };
    const submitted = await fixture.client.submitJob(spec);
    const events: JobEvent[] = [];
    for await (const event of fixture.client.jobEvents(submitted.id)) events.push(event);
    const job = await fixture.client.getJob(submitted.id);
    expect(job.state).toBe('succeeded');

    const validations = events.flatMap((e) => (e.type === 'progress' && 'val.psnr' in e.metrics ? [e] : []));
    expect(validations.map((e) => e.step)).toEqual([2, 4]);
    for (const event of validations) {
      if (event.type !== 'progress') continue;
      for (const name of VAL_METRICS) expect(Number.isFinite(event.metrics[name])).toBe(true);
    }
    const notices = events.flatMap((e) => (e.type === 'notice' ? [e] : []));
    const counts = notices.find((n) => n.kind === 'parameters');
    expect(counts?.details).toMatchObject({ vaeTrainable: 0 });
    expect(Number(counts?.details.denoiserTrainable)).toBeGreaterThan(0);
    expect(notices.find((n) => n.kind === 'frozen_weights')?.level).toBe('warning');

    const kept = await listCheckpoints(fixture, job.id);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    for (const checkpoint of kept) {
      expect(checkpoint.meta.provenance?.vaeWeightsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(checkpoint.meta.provenance?.vaePretrained).toBe('false');
      expect(Number(checkpoint.meta.provenance?.latentScaleFactor)).toBeGreaterThan(0);
      expect(Object.keys(checkpoint.meta.metrics)).toEqual(expect.arrayContaining(VAL_METRICS));
      expect(checkpoint.files.map((f) => f.name)).toEqual(expect.arrayContaining(['model.safetensors', 'meta.json']));
    }
  });

  it('fails a job whose VAE weights file has a wrong key before training, naming the key', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'slice-interp-wrong-vae',
      kind: 'slice_interp',
      resources: { gpus: 0 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 2 },
      maxRestarts: 0,
      config: { preset: 'cpu-tiny', vae: { weights: `${fixture.dataDir}/data/vae-wrong.safetensors` } },
    };
    const submitted = await fixture.client.submitJob(spec);
    const job = await fixture.client.waitForState(submitted.id, ['succeeded', 'failed'], 240_000);
    expect(job.state).toBe('failed');
    const log = await (await fixture.api(`/v1/jobs/${job.id}/logs?attempt=1&rank=0`)).text();
    expect(log).toContain('vae.weights');
    expect(log).toContain('missing 1: encoder.blocks.1.conv1.conv.conv.weight');
    expect(log).toContain('unexpected 1: encoder.blocks.1.conv1.conv.conv.weihgt');
    expect(log).not.toContain('generating');  // nothing was built: no phantoms were made
    expect(await listCheckpoints(fixture, job.id)).toEqual([]);
  });

  it('checks a GPU job’s VAE weights on a CPU before any GPU is leased: a wrong key ends it failed, naming the key', async () => {
    // A worker with one simulated GPU: the only place the GPU jobs below could run.
    await startRegisteredWorker(fixture, { workerId: 'si-gpu', fakeGpus: '1', env: { HOUNSFIELD_DATA_ROOTS: `${fixture.dataDir}/data` } });
    const gpuSpec = (name: string, config: Record<string, unknown>): TrainingJobSpecInput => ({
      name,
      kind: 'slice_interp',
      resources: { gpus: 1 },
      hyperparameters: { globalBatch: 2, baseLr: 1e-3, maxSteps: 2 },
      config: { preset: 'cpu-tiny', ...config },
    });
    const wrong = await fixture.client.submitJob(gpuSpec('slice-interp-wrong-vae-gpu', { vae: { weights: `${fixture.dataDir}/data/vae-wrong.safetensors` } }));
    const failed = await fixture.client.waitForState(wrong.id, ['failed', 'succeeded', 'running'], 120_000);
    expect(failed.state).toBe('failed');
    expect(failed.reason).toContain('before the GPU lease, config check failed: vae.weights');
    expect(failed.reason).toContain('missing 1: encoder.blocks.1.conv1.conv.conv.weight');
    expect(failed.reason).toContain('unexpected 1: encoder.blocks.1.conv1.conv.conv.weihgt');
    expect(failed.history.map((h) => h.state)).toEqual(['queued', 'failed']);
    expect(failed.history[failed.history.length - 1]).toMatchObject({ failureKind: 'preflight' });
    // Never placed: no attempt, no GPU, no worker.
    expect(failed.attempts ?? []).toEqual([]);
    expect(failed.gpuIndices).toBeUndefined();
    expect(failed.workerId).toBeUndefined();

    // A good config passes the same check and only then leases its GPU.
    const good = await fixture.client.submitJob(gpuSpec('slice-interp-good-gpu', {}));
    let record = await fixture.client.getJob(good.id);
    const deadline = Date.now() + 120_000;
    while ((record.attempts ?? []).length === 0 && record.state === 'queued' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      record = await fixture.client.getJob(good.id);
    }
    expect(record.environment).toMatchObject({ state: 'ready', workerId: 'si-gpu' });
    expect(record.attempts?.[0]).toMatchObject({ attempt: 1, workerId: 'si-gpu' });
    expect(record.gpuIndices).toEqual([0]);
    expect(Date.parse(record.environment?.readyAt ?? '')).toBeLessThanOrEqual(Date.parse(record.attempts?.[0].assignedAt ?? ''));
    await fixture.client.cancelJob(good.id, 0);
    expect((await fixture.client.waitForState(good.id, ['cancelled', 'failed', 'succeeded'], 120_000)).state).toBe('cancelled');
  }, 300_000);
});
