import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints } from './checkpoints-fixture';
import { expectReportWithPreviews, postEvaluation, waitForEvaluation } from './evaluation-fixture';
import { Fixture, startDataStack } from './stack-fixture';

/** CT phantoms prepared like the cpu-tiny trainer prepares its own (window, range, split). */
const PREPARE = (data: string) =>
  [
    'from pathlib import Path',
    'from hounsfield.data.ct_phantoms import write_phantom_dataset',
    'from hounsfield.data.volumes.prepare import prepare_volumes',
    'from hounsfield.recipes.runner import assemble_config',
    'from hounsfield.recipes.vqgan3d.data import prepare_config',
    'from hounsfield.recipes.vqgan3d.recipe import RECIPE',
    `root = Path(${JSON.stringify(data)})`,
    "write_phantom_dataset(root / 'ct', 8, shape=(24, 24, 28), seed=11)",
    "prepare_volumes(root / 'ct', root / 'prepared', prepare_config(assemble_config(RECIPE, {'preset': 'cpu-tiny'}, {}, {})))",
  ].join('\n');

const VAL_METRICS = ['val.psnr', 'val.ssim', 'val.perplexity', 'val.codes_used', 'val.dead_codes'];

/**
 * Issue #13 on the real stack: a vqgan3d cpu-tiny job generates CT phantoms, prepares them
 * (validation, patient split, manifest), trains on patches, validates whole volumes through the
 * overlap blending and keeps the checkpoint that is best by val.psnr, with the manifest's hash.
 */
describe('vqgan3d on the stack', () => {
  let fixture: Fixture;
  let trained: JobRecord | undefined;

  beforeAll(async () => {
    fixture = await startDataStack({ prefix: 'hf-e2e-vq-', workerId: 'vq-node', python: PREPARE });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('trains on phantoms, reports val.* and keeps checkpoints with the data manifest hash', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'vqgan3d-phantoms',
      kind: 'vqgan3d',
      hyperparameters: { globalBatch: 4, baseLr: 2e-3, maxSteps: 4 },
      checkpoint: { everySteps: 2, keepLast: 1, keepBest: { metric: 'val.psnr', mode: 'max' } },
      config: { preset: 'cpu-tiny', synthetic: { subjects: 3, shape: 24 }, logEvery: 2, validation: { everySteps: 2, maxCases: 1 } },
    };
    const submitted = await fixture.client.submitJob(spec);
    const events: JobEvent[] = [];
    for await (const event of fixture.client.jobEvents(submitted.id)) events.push(event);
    const job: JobRecord = await fixture.client.getJob(submitted.id);
    expect(job.state).toBe('succeeded');
    trained = job;
    const validations = events.flatMap((e) => (e.type === 'progress' && 'val.psnr' in e.metrics ? [e] : []));
    expect(validations.map((e) => e.step)).toEqual([2, 4]);
    for (const event of validations) {
      if (event.type !== 'progress') continue;
      for (const name of VAL_METRICS) expect(Number.isFinite(event.metrics[name])).toBe(true);
      expect(event.metrics['val.ssim']).toBeLessThanOrEqual(1);
    }
    const kept = await listCheckpoints(fixture, job.id);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    for (const checkpoint of kept) {
      expect(checkpoint.meta.provenance?.dataManifestSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(checkpoint.meta.metrics)).toEqual(expect.arrayContaining(VAL_METRICS));
    }
  });

  it('evaluates the checkpoint on a prepared split over 2 CPU shards: per-volume scores, mean ± std, a report with previews', async () => {
    expect(trained?.state).toBe('succeeded');
    const manifest = JSON.parse(readFileSync(join(fixture.dataDir, 'data', 'prepared', 'manifest.json'), 'utf8')) as { cases: { split: string }[] };
    const testCases = manifest.cases.filter((c) => c.split === 'test').length;
    expect(testCases).toBeGreaterThanOrEqual(1);

    // A PCDiff option on a vqgan3d evaluation is refused, naming the field.
    const wrong = await postEvaluation(fixture, { kind: 'vqgan3d', checkpoints: { model: { job: trained!.id } }, dataset: { root: 'prepared' }, ensembleSize: 3 });
    expect(wrong.status).toBe(400);
    expect((wrong.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['ensembleSize']);

    const { status, body } = await postEvaluation(fixture, {
      kind: 'vqgan3d',
      name: 'vq-tiny',
      checkpoints: { model: { job: trained!.id, ref: 'latest' } },
      dataset: { root: 'prepared', split: 'test' },
      stride: [8, 8, 8],
      shards: 2,
      device: 'cpu',
    });
    expect(status).toBe(201);
    const record = await waitForEvaluation(fixture, String(body.id), (r) => r.status === 'succeeded' || r.status === 'failed', 150_000);
    expect({ status: record.status, error: record.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(record.progress).toMatchObject({ total: testCases, done: testCases });
    expect(record.options).toMatchObject({ patch: [16, 16, 16], stride: [8, 8, 8], blend: 'gaussian', dataRange: 1 });
    const { markdown } = await expectReportWithPreviews(fixture, record, ['psnr', 'ssim', 'perplexity', 'codes_used']);
    expect(markdown).toContain('- family: vqgan3d');
    expect(markdown).toContain(`- model: job ${trained!.id}`);
    expect(markdown).toContain('stride 8×8×8');
    expect(record.summary?.overall.psnr.mean).toBeGreaterThan(0);
  });
});
