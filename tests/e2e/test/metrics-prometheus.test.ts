import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ServerHandle, startPrometheusServer } from '@hounsfield/testing';
import { Fixture, startFixture, startRegisteredWorker } from './stack-fixture';

interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** A simulated worker whose one GPU reports 42 % utilisation, so the GPU series has a known value. */
const GPU_AT_42 = JSON.stringify([{ name: 'NVIDIA H100 80GB HBM3', memoryGiB: 80, memoryUsedGiB: 12, utilizationPercent: 42, temperatureCelsius: 55 }]);

describe('Prometheus scrapes the metrics service while a CPU job runs', () => {
  let fixture: Fixture;
  let prometheus: ServerHandle;

  async function query(expr: string, range?: { start: number; end: number }): Promise<PromSeries[]> {
    const params = new URLSearchParams({ query: expr, ...(range ? { start: String(range.start), end: String(range.end), step: '1' } : {}) });
    const response = await fetch(`${prometheus.url}/api/v1/${range ? 'query_range' : 'query'}?${params}`);
    const body = (await response.json()) as { status: string; error?: string; data: { result: PromSeries[] } };
    if (body.status !== 'success') throw new Error(`PromQL ${expr} failed: ${body.error}`);
    return body.data.result;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${what} not seen within ${timeoutMs} ms`);
  }

  beforeAll(async () => {
    fixture = await startFixture();
    prometheus = await startPrometheusServer({ targets: [`127.0.0.1:${fixture.stack.portOf('metrics')}`], scrapeIntervalSeconds: 1 });
    await startRegisteredWorker(fixture, { workerId: 'prom-node', fakeGpus: GPU_AT_42 });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await fixture?.cleanup();
  });

  it('returns the job\'s loss series and the simulated worker\'s GPU series through PromQL', async () => {
    const job = await fixture.client.submitJob({
      name: 'prometheus-probe',
      kind: 'script',
      script: { module: 'hounsfield.examples.health_faults', args: ['--steps', '150', '--sleep', '0.1'] },
      resources: { gpus: 0 },
      hyperparameters: { globalBatch: 8, baseLr: 0.001 },
    });
    const started = Date.now() / 1000;

    // While the trainer runs, Prometheus holds a falling loss curve for it.
    const loss = await until('the job\'s loss in Prometheus', async () => {
      const series = await query(`hounsfield_job_loss{job_id="${job.id}", term="loss"}`, { start: started, end: Date.now() / 1000 });
      return series[0] && (series[0].values?.length ?? 0) >= 3 ? series[0] : undefined;
    });
    expect((await fixture.client.getJob(job.id)).state).toBe('running');
    const values = (loss.values ?? []).map(([, v]) => Number(v));
    for (const v of values) expect(v).toBeGreaterThan(0);
    expect(values[values.length - 1]).toBeLessThan(values[0]); // loss = 1/step falls
    expect(loss.metric).toMatchObject({ job_id: job.id, term: 'loss', job: 'hounsfield' });

    const info = await query(`hounsfield_job_info{job_id="${job.id}"}`);
    expect(info[0].metric).toMatchObject({ job_name: 'prometheus-probe', kind: 'script', worker_id: 'prom-node' });

    const gpu = await until('the GPU series in Prometheus', async () => {
      const series = await query('hounsfield_gpu_utilization_ratio{worker_id="prom-node"}');
      return series[0];
    });
    expect(gpu.metric).toMatchObject({ worker_id: 'prom-node', gpu: '0' });
    expect(Number(gpu.value?.[1])).toBeCloseTo(0.42, 10);
    const memory = await query('hounsfield_gpu_memory_used_bytes{worker_id="prom-node", gpu="0"}');
    expect(Number(memory[0].value?.[1])).toBe(12 * 2 ** 30);

    // The same curve without Prometheus: the stored series through the API.
    const stored = await fixture.client.jobMetrics(job.id, { names: ['loss'] });
    expect(stored.series[0].name).toBe('loss');
    expect(stored.series[0].points[0]).toMatchObject({ step: 1, value: 1, count: 1, attempt: 1 });

    await fixture.client.cancelJob(job.id, 5);
    expect((await fixture.client.waitForState(job.id, ['cancelled'])).state).toBe('cancelled');
  });

  it('answers bad metric queries with problem+json naming the field, and unknown jobs with 404', async () => {
    const missing = await fixture.api(`/v1/jobs/no-such-job/metrics`);
    expect(missing.status).toBe(404);
    const job = await fixture.client.submitJob({
      name: 'query-probe',
      kind: 'script',
      script: { module: 'hounsfield.examples.health_faults', args: ['--steps', '3', '--sleep', '0'] },
      hyperparameters: { globalBatch: 8, baseLr: 0.001 },
    });
    const reversed = await fixture.api(`/v1/jobs/${job.id}/metrics?from=9&to=2`);
    expect(reversed.status).toBe(400);
    expect(reversed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await reversed.json()) as { errors: { path: string; message: string }[] }).errors).toEqual([{ path: 'from', message: 'from must not be greater than to' }]);
    const done = await fixture.client.waitForState(job.id, ['succeeded', 'failed']);
    expect(done.state).toBe('succeeded');
    // The metrics consumer may trail the scheduler's by a moment: wait for the last report.
    const window = await until('steps 2–3 stored', async () => {
      const read = await fixture.client.jobMetrics(job.id, { names: ['loss', 'step_seconds'], from: 2, to: 3 });
      return read.series.every((series) => series.points.length === 2) && read.series.length === 2 ? read : undefined;
    });
    expect(window.series.map((s) => [s.name, s.points.map((p) => p.step)])).toEqual([['loss', [2, 3]], ['step_seconds', [2, 3]]]);
  });
});
