import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { expectReportWithPreviews, postEvaluation, waitForEvaluation } from './evaluation-fixture';
import { Fixture, startDataStack } from './stack-fixture';

/** 1 mm CT phantoms prepared as the cpu-tiny trainer prepares its own (window, [0, 1], patient split). */
const PREPARE = (data: string) =>
  [
    'from pathlib import Path',
    'from hounsfield.data.ct_phantoms import FIELD_OF_VIEW_MM, write_phantom_dataset',
    'from hounsfield.data.volumes.prepare import prepare_volumes',
    'from hounsfield.recipes.runner import assemble_config',
    'from hounsfield.recipes.slice_interp.data import prepare_config',
    'from hounsfield.recipes.slice_interp.recipe import RECIPE',
    `root = Path(${JSON.stringify(data)})`,
    'config = assemble_config(RECIPE, {"preset": "cpu-tiny"}, {}, {})',
    'shape = (*config.pairs.in_plane, round(FIELD_OF_VIEW_MM[2] / config.pairs.thin_spacing_mm))',
    "write_phantom_dataset(root / 'ct', 5, shape=shape, seed=21)",
    "prepare_volumes(root / 'ct', root / 'prepared', prepare_config(config))",
  ].join('\n');

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/**
 * Issue #14, item 6, on the real stack: a slice_interp cpu-tiny job trains (random VAE weights),
 * and its checkpoint is evaluated through the evaluation service on a prepared split: per case
 * the model and the trilinear baseline are scored against the thin slices, and the report links a
 * coronal preview per case (thick | trilinear | model | thin).
 */
describe('a slice_interp evaluation on the stack', () => {
  let fixture: Fixture;
  let trained: JobRecord | undefined;

  beforeAll(async () => {
    fixture = await startDataStack({ prefix: 'hf-e2e-si-eval-', workerId: 'si-eval-node', python: PREPARE });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('trains a cpu-tiny job to a committed checkpoint', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'slice-interp-tiny',
      kind: 'slice_interp',
      hyperparameters: { globalBatch: 4, baseLr: 1e-3, maxSteps: 2 },
      checkpoint: { everySteps: 2, keepLast: 1 },
      config: { preset: 'cpu-tiny', synthetic: { subjects: 3 }, validation: { everySteps: 2, maxCases: 1 } },
    };
    const submitted = await fixture.client.submitJob(spec);
    for await (const event of fixture.client.jobEvents(submitted.id)) void event;
    trained = await fixture.client.getJob(submitted.id);
    expect(trained.state).toBe('succeeded');
  });

  it('refuses another family\'s option and fails at the shard preflight on a VAE file that is not there', async () => {
    expect(trained?.state).toBe('succeeded');
    const wrong = await postEvaluation(fixture, { kind: 'slice_interp', checkpoints: { model: { job: trained!.id } }, dataset: { root: 'prepared' }, stride: [8, 8, 8] });
    expect(wrong.status).toBe(400);
    expect((wrong.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['stride']);

    const missing = await postEvaluation(fixture, {
      kind: 'slice_interp',
      checkpoints: { model: { job: trained!.id } },
      dataset: { root: 'prepared', split: 'test' },
      vaeWeights: 'maisi/autoencoder.safetensors',
      device: 'cpu',
      maxShardRestarts: 0,
    });
    expect(missing.status).toBe(201);
    const failed = await waitForEvaluation(fixture, String(missing.body.id), (r) => r.status === 'succeeded' || r.status === 'failed', 90_000);
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('prepared/maisi/autoencoder.safetensors');
  });

  it('scores the model beside trilinear interpolation per case, with mean ± std and a coronal preview per case', async () => {
    expect(trained?.state).toBe('succeeded');
    const manifest = JSON.parse(readFileSync(join(fixture.dataDir, 'data', 'prepared', 'manifest.json'), 'utf8')) as { cases: { split: string; shape: number[]; spacing: number[] }[] };
    const testCases = manifest.cases.filter((c) => c.split === 'test');
    expect(testCases.length).toBeGreaterThanOrEqual(1);

    const { status, body } = await postEvaluation(fixture, {
      kind: 'slice_interp',
      name: 'si-tiny',
      checkpoints: { model: { job: trained!.id, ref: 'latest' } },
      dataset: { root: 'prepared', split: 'test' },
      ddimSteps: 2,
      device: 'cpu',
    });
    expect(status).toBe(201);
    const record = await waitForEvaluation(fixture, String(body.id), (r) => r.status === 'succeeded' || r.status === 'failed', 200_000);
    expect({ status: record.status, error: record.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(record.progress).toMatchObject({ total: testCases.length, done: testCases.length });
    expect(record.options).toMatchObject({ ddimSteps: 2, thinSpacingMm: 1, thickSpacingMm: 5, thickMode: 'average', thinSlices: 40, inPlane: [32, 32], dataRange: 1, vaePretrained: false });

    const { markdown } = await expectReportWithPreviews(fixture, record, ['psnr', 'ssim', 'psnr_trilinear', 'ssim_trilinear']);
    expect(markdown).toContain('- family: slice_interp');
    expect(markdown).toContain(`- model: job ${trained!.id}`);
    expect(markdown).toContain('coronal reformat at mid y: thick input');
    // Trilinear interpolation of smooth phantoms is close; the 2-step model on a random VAE is not (the VAE cannot reconstruct CT).
    expect(record.summary?.overall.psnr_trilinear.mean).toBeGreaterThan(20);
    expect(record.summary?.overall.ssim.mean).toBeLessThanOrEqual(1);

    // One preview per case: four panels (4-pixel gaps), one row per evaluated thin slice (every
    // centred 40-slice block), each x voxel (11.25 mm) 11 pixels wide beside 1 mm slices.
    const [first] = [...markdown.matchAll(/!\[[^\]]+\]\((\/v1\/evaluations\/[^)]+\/preview\.png)\)/g)];
    const png = Buffer.from(await (await fixture.api(first[1])).arrayBuffer());
    const [sx, , sz] = testCases[0].spacing;
    expect(Math.round(sx / sz)).toBe(11);
    expect(pngSize(png)).toEqual({ width: 4 * 32 * 11 + 3 * 4, height: Math.floor(testCases[0].shape[2] / 40) * 40 });
  });
});
