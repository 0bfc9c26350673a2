import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobEvent, TrainingJobSpecInput } from '@hounsfield/contracts';
import { HounsfieldApiError } from '@hounsfield/client';
import { Fixture, startFixture, startRegisteredWorker } from './stack-fixture';

function scriptJob(name: string, module: string, args: string[], gpus = 0): TrainingJobSpecInput {
  return {
    name,
    kind: 'script',
    script: { module, args },
    resources: { gpus },
    hyperparameters: { globalBatch: 8, baseLr: 0.001 },
  };
}

describe('the job path over HTTP, through the scheduler, to a Python worker and back', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startFixture();
    await startRegisteredWorker(fixture, { workerId: 'e2e-node', fakeGpus: '4' });
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('answers an invalid spec with 400 problem+json naming each failing field', async () => {
    const response = await fixture.api(`/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', kind: 'diffusion', hyperparameters: { globalBatch: 0, baseLr: 1e-4 } }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { status: number; errors: { path: string; message: string }[] };
    expect(problem.status).toBe(400);
    const paths = problem.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['kind', 'hyperparameters.globalBatch']));
    for (const error of problem.errors) expect(error.message.length).toBeGreaterThan(0);
  });

  it('runs a script job to success, streams its progress in order, and the child saw the chosen GPUs', async () => {
    const submitted = await fixture.client.submitJob(
      scriptJob('count', 'hounsfield.examples.count', ['--steps', '6', '--sleep', '0.1'], 2),
    );
    expect(submitted.state).toBe('queued');
    expect(submitted.id).toBeTruthy();
    expect(submitted.createdAt).toBeTruthy();

    const events: JobEvent[] = [];
    for await (const event of fixture.client.jobEvents(submitted.id)) events.push(event);

    const job = await fixture.client.getJob(submitted.id);
    expect(job.state).toBe('succeeded');
    expect(job.exitCode).toBe(0);

    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(5);
    const steps = progress.map((e) => (e.type === 'progress' ? e.step : -1));
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
    const seqs = progress.map((e) => (e.type === 'progress' ? e.seq : -1));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // The scheduler chose the devices; the trainer itself reported what it saw.
    expect(job.cudaVisibleDevices).toMatch(/^\d+,\d+$/);
    expect(job.runtime?.cudaVisibleDevices).toBe(job.cudaVisibleDevices);
    const running = events.find((e) => e.type === 'status' && e.state === 'running');
    expect(running?.type === 'status' && running.runtime?.cudaVisibleDevices).toBe(job.cudaVisibleDevices);

    const states = events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.state : ''));
    expect(states[0]).toBe('queued');
    expect(states[states.length - 1]).toBe('succeeded');
    expect(job.lastProgress?.step).toBe(steps[steps.length - 1]);
  });

  it('gives a CPU job an explicitly empty CUDA_VISIBLE_DEVICES', async () => {
    const submitted = await fixture.client.submitJob(scriptJob('cpu', 'hounsfield.examples.count', ['--steps', '2', '--sleep', '0'], 0));
    const job = await fixture.client.waitForState(submitted.id, ['succeeded', 'failed']);
    expect(job.state).toBe('succeeded');
    expect(job.cudaVisibleDevices).toBe('');
    expect(job.runtime?.cudaVisibleDevices).toBe('');
  });

  it('records a failing script as failed with its exit code and the end of its log', async () => {
    const submitted = await fixture.client.submitJob(scriptJob('exit3', 'hounsfield.examples.exit_code', ['--code', '3']));
    const job = await fixture.client.waitForState(submitted.id, ['succeeded', 'failed']);
    expect(job.state).toBe('failed');
    expect(job.exitCode).toBe(3);
    expect(job.logTail?.length ?? 0).toBeGreaterThan(0);
  });

  it('lists jobs with a state filter and 404s an unknown job', async () => {
    const failed = await fixture.client.listJobs('failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.every((j) => j.state === 'failed')).toBe(true);
    await expect(fixture.client.getJob('no-such-job')).rejects.toMatchObject({ status: 404 });
    await expect(fixture.client.getJob('no-such-job')).rejects.toBeInstanceOf(HounsfieldApiError);
  });
});
