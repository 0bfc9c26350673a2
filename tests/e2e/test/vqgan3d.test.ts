import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints, startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

const VAL_METRICS = ['val.psnr', 'val.ssim', 'val.perplexity', 'val.codes_used', 'val.dead_codes'];

/**
 * Issue #13 on the real stack: a vqgan3d cpu-tiny job generates CT phantoms, prepares them
 * (validation, patient split, manifest), trains on patches, validates whole volumes through the
 * overlap blending and keeps the checkpoint that is best by val.psnr, with the manifest's hash.
 */
describe('vqgan3d on the stack', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startCheckpointStack('vq-node');
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
});
