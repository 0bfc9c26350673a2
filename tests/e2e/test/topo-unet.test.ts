import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, TrainingJobSpecInput } from '@hounsfield/contracts';
import { listCheckpoints } from './checkpoints-fixture';
import { Fixture, startFixture, startRegisteredWorker } from './stack-fixture';

const TERMS = ['loss.bce', 'loss.dice', 'loss.cldice', 'loss.skeleton_recall', 'loss.surface'];

/**
 * Issue #15 on the real stack: a topo_unet cpu-tiny job (sheet phantoms) reports every loss term
 * in its progress events and to the metrics service, validates with the topology metrics, and
 * checkpoints.
 */
describe('a topo_unet job on the stack', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startFixture();
    await startRegisteredWorker(fixture, { workerId: 'topo-node', fakeGpus: '1' });
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
});
