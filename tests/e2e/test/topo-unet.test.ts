import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints } from './checkpoints-fixture';
import { expectReportWithPreviews, postEvaluation, waitForEvaluation } from './evaluation-fixture';
import { Fixture, startDataStack } from './stack-fixture';

/** Two sheet phantoms (images/ + labels/) for the evaluation, beside the ones the job makes itself. */
const SHEETS = (data: string) =>
  `from pathlib import Path; from hounsfield.data.sheet_phantoms import write_phantom_cases as w; w(Path(${JSON.stringify(data)}) / 'sheets', 2, (24, 40, 40), 9)`;

const TERMS = ['loss.bce', 'loss.dice', 'loss.cldice', 'loss.skeleton_recall', 'loss.surface'];

/**
 * Issue #15 on the real stack: a topo_unet cpu-tiny job (sheet phantoms) reports every loss term
 * in its progress events and to the metrics service, validates with the topology metrics, and
 * checkpoints.
 */
describe('a topo_unet job on the stack', () => {
  let fixture: Fixture;
  let trainedJob: string | undefined;

  beforeAll(async () => {
    fixture = await startDataStack({ prefix: 'hf-e2e-topo-', workerId: 'topo-node', python: SHEETS });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('shows each loss term in events and in hounsfield_job_loss, validates and checkpoints', async () => {
    const spec: TrainingJobSpecInput = {
      name: 'topo-tiny',
      kind: 'topo_unet',
      resources: { gpus: 0 },
      hyperparameters: { globalBatch: 2, baseLr: 3e-3, maxSteps: 4 },
      checkpoint: { everySteps: 2 },
      config: {
        preset: 'cpu-tiny',
        logEvery: 2,
        synthetic: { subjects: 3, shape: 40 },
        data: { validationCases: 1 },
        validation: { everySteps: 4 },
      },
    };
    const submitted = await fixture.client.submitJob(spec);
    const events: JobEvent[] = [];
    for await (const event of fixture.client.jobEvents(submitted.id)) events.push(event);
    expect((await fixture.client.getJob(submitted.id)).state).toBe('succeeded');
    trainedJob = submitted.id;

    const progress = events.flatMap((e) => (e.type === 'progress' ? [e] : []));
    const losses = progress.filter((e) => 'loss' in e.metrics);
    expect(losses.map((e) => e.step)).toEqual([2, 4]);
    for (const event of losses) for (const term of TERMS) expect(Number.isFinite(event.metrics[term] as number)).toBe(true);
    const validation = progress.find((e) => 'val.score' in e.metrics);
    expect(validation?.metrics).toHaveProperty(['val.b1_error']);

    const scraped = await (await fetch(`http://127.0.0.1:${fixture.stack.portOf('metrics')}/metrics`)).text();
    for (const term of TERMS) expect(scraped).toContain(`hounsfield_job_loss{job_id="${submitted.id}",term="${term}"}`);

    const checkpoints = await listCheckpoints(fixture, submitted.id);
    expect(checkpoints.map((c) => c.step).sort((a, b) => a - b)).toEqual([2, 4]);
    expect(checkpoints.find((c) => c.step === 4)?.meta.metrics).toHaveProperty(['val.dice']);
  });

  it('evaluates the checkpoint over 2 CPU shards: per-case topology metrics, mean ± std, a report with coloured previews', async () => {
    expect(trainedJob).toBeDefined();
    // The checkpoint of a topo_unet job is no vqgan3d model: refused naming the job and both kinds.
    const mismatch = await postEvaluation(fixture, { kind: 'vqgan3d', checkpoints: { model: { job: trainedJob } }, dataset: { root: 'sheets' }, device: 'cpu' });
    expect(mismatch.status).toBe(400);
    expect(String(mismatch.body.detail)).toContain(`job ${trainedJob} trained a topo_unet model; a vqgan3d evaluation needs a vqgan3d checkpoint`);

    const { status, body } = await postEvaluation(fixture, {
      kind: 'topo_unet',
      name: 'topo-tiny',
      checkpoints: { model: { job: trainedJob, ref: 'latest' } },
      dataset: { root: 'sheets', split: 'all' },
      threshold: 0.5,
      minComponentVoxels: 2,
      shards: 2,
      device: 'cpu',
    });
    expect(status).toBe(201);
    const record = await waitForEvaluation(fixture, String(body.id), (r) => r.status === 'succeeded' || r.status === 'failed', 120_000);
    expect({ status: record.status, error: record.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(record.progress).toMatchObject({ total: 2, done: 2 });
    expect(record.options).toMatchObject({ threshold: 0.5, minComponentVoxels: 2, surfaceToleranceMm: 2 });
    const { caseIds, markdown } = await expectReportWithPreviews(fixture, record, ['dice', 'cldice', 'surface_dice', 'voi', 'b0_error', 'b1_error']);
    expect(caseIds.sort()).toEqual(['phantom_0009', 'phantom_0010']); // ids follow the phantom seed (9)
    expect(markdown).toContain('- family: topo_unet');
    expect(markdown).toContain('threshold 0.5, minComponentVoxels 2, surfaceToleranceMm 2');
    expect(markdown).toMatch(/red = false positive, blue = missed, grey = unlabelled/);
  });
});
