import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AlertEvent, AlertKind, SERVICE_RPCS, SUBJECTS } from '@hounsfield/contracts';
import { requestRpc } from '@hounsfield/messaging';
import { valueOf } from './exposition-text';
import { eventually, events, MetricsHarness, startMetricsHarness } from './metrics-harness';

describe('training-health alerts from purpose-built event sequences', () => {
  let h: MetricsHarness;
  const jobAlerts = (id: string) => requestRpc(h.nats.nc, SERVICE_RPCS.jobAlerts, { id });
  const alertOn = (id: string, kind: AlertKind, status = 'firing') =>
    eventually(async () => (await jobAlerts(id)).find((a) => a.kind === kind && a.status === status), 10_000, `${kind} ${status} on ${id}`);
  /** Reports of one loss series, one per step from `start`, each with seq = step. */
  async function report(jobId: string, losses: (number | 'NaN' | 'Infinity')[], start = 0, extra = {}) {
    for (const [i, loss] of losses.entries()) {
      await h.publish(SUBJECTS.jobProgress(jobId), events.progress(jobId, start + i, start + i, { loss }, extra));
    }
  }

  beforeAll(async () => {
    h = await startMetricsHarness({ HOUNSFIELD_METRICS_LOSS_WINDOW: '6' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('flags a NaN loss with advice about the learning rate, on the job and as an event, and counts it', async () => {
    h.scheduler.addJob('nan-job', {}, { resolved: { worldSize: 1, globalBatch: 8, perDeviceBatch: 8, gradAccumSteps: 1, referenceBatch: 8, baseLr: 0.01, lrScaling: 'linear', lr: 0.01 } });
    await report('nan-job', [0.9, 0.8, 'NaN']);
    const alert = await alertOn('nan-job', 'non_finite_loss');
    expect(alert).toMatchObject({ jobId: 'nan-job', attempt: 1, severity: 'critical', metric: 'loss', step: 2, status: 'firing' });
    expect(alert.summary).toBe('loss term "loss" is NaN at step 2');
    expect(alert.advice).toContain('Lower the learning rate (0.01) or add a warm-up');
    expect(alert.advice).toContain('monitoring.failOnNonFiniteLoss');
    await eventually(() => h.alerts.find((a) => a.alertId === alert.alertId), 5000, 'alert event on the stream');
    expect(h.scheduler.failRequests.filter((r) => r.id === 'nan-job')).toEqual([]);
    const samples = await h.scrape();
    expect(valueOf(samples, 'hounsfield_alerts_total', { kind: 'non_finite_loss', severity: 'critical' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'hounsfield_job_alerts_firing', { job_id: 'nan-job', kind: 'non_finite_loss' })).toBe(1);
  });

  it('with monitoring.failOnNonFiniteLoss asks the scheduler to fail the job at once, with the reason', async () => {
    h.scheduler.addJob('nan-fast', { monitoring: { failOnNonFiniteLoss: true } });
    await report('nan-fast', [0.7, 'Infinity', 'NaN']);
    const request = await eventually(() => h.scheduler.failRequests.find((r) => r.id === 'nan-fast'), 10_000, 'fail request');
    expect(request.reason).toBe('training-health alert: loss term "loss" is Infinity at step 1; the job is being stopped (monitoring.failOnNonFiniteLoss)');
    // One alert per term and attempt, however many bad reports follow; one stop request.
    await alertOn('nan-fast', 'non_finite_loss');
    await new Promise((r) => setTimeout(r, 300));
    expect((await jobAlerts('nan-fast')).filter((a) => a.kind === 'non_finite_loss')).toHaveLength(1);
    expect((await jobAlerts('nan-fast'))[0].occurrences).toBe(2);
    expect(h.scheduler.failRequests.filter((r) => r.id === 'nan-fast')).toHaveLength(1);
  });

  it('flags a loss spike above k times the moving average', async () => {
    h.scheduler.addJob('spike-job');
    await report('spike-job', [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 4.2, 1.0]);
    const alert = await alertOn('spike-job', 'loss_spike');
    expect(alert).toMatchObject({ severity: 'warning', metric: 'loss', step: 6 });
    expect(alert.summary).toBe('loss term "loss" jumped to 4.2 at step 6, 4.2× its recent average 1 (alert above 3×)');
    // One spike is not a divergence: the median barely moved.
    await report('spike-job', [1.0, 0.98, 1.02, 0.97, 1.0, 0.99], 8);
    await new Promise((r) => setTimeout(r, 300));
    expect((await jobAlerts('spike-job')).map((a) => a.kind)).toEqual(['loss_spike']);
  });

  it('honours the spec\'s spike factor', async () => {
    h.scheduler.addJob('spike-strict', { monitoring: { failOnNonFiniteLoss: false, lossSpikeFactor: 10 } });
    await report('spike-strict', [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 4.2, 1.0]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await jobAlerts('spike-strict')).toEqual([]);
  });

  it('flags a diverging loss (moving median stays above twice its best)', async () => {
    h.scheduler.addJob('diverge-job');
    const falling = [2, 1.6, 1.3, 1.1, 1.0, 0.9, 0.85, 0.8, 0.8];
    const rising = Array.from({ length: 16 }, (_, i) => 0.9 + 0.25 * i);
    await report('diverge-job', [...falling, ...rising]);
    const alert = await alertOn('diverge-job', 'loss_divergence');
    expect(alert.severity).toBe('critical');
    // Reference (Python's statistics.median over sliding windows of 6): the best median is 0.875,
    // and the median first stays above 2 × 0.875 for 6 windows at step 20, where it is 3.025.
    expect(alert.step).toBe(20);
    expect(alert.summary).toBe('loss term "loss" is diverging: its moving median is 3.02 at step 20, 3.46× the best 0.875 and not coming back');
    expect(alert.advice).toContain('halve it');
  });

  it('flags a stall while the trainer lives, and resolves it when progress resumes', async () => {
    h.scheduler.addJob('stall-job', { monitoring: { failOnNonFiniteLoss: false, stallSeconds: 30 } });
    const t0 = Date.now() - 120_000;
    await h.publish(SUBJECTS.jobStatus('stall-job'), events.status('stall-job', 'running', t0));
    await h.publish(SUBJECTS.jobProgress('stall-job'), events.progress('stall-job', 0, 5, { loss: 1 }, { at: new Date(t0 + 1000).toISOString() }));
    const running = [{ jobId: 'stall-job', attempt: 1 }];
    await h.publish(SUBJECTS.workerHeartbeat('node-s'), events.heartbeat('node-s', [{}], running, t0 + 20_000));
    await new Promise((r) => setTimeout(r, 400));
    expect(await jobAlerts('stall-job')).toEqual([]);
    await h.publish(SUBJECTS.workerHeartbeat('node-s'), events.heartbeat('node-s', [{}], running, t0 + 32_000));
    const alert = await alertOn('stall-job', 'stall');
    expect(alert.summary).toBe('no progress for 31 s after step 5, while the trainer process is alive on worker node-s');
    expect(alert.advice).toContain('DDP collective');
    await h.publish(SUBJECTS.jobProgress('stall-job'), events.progress('stall-job', 1, 6, { loss: 0.9 }, { at: new Date(t0 + 40_000).toISOString() }));
    const resolved = await alertOn('stall-job', 'stall', 'resolved');
    expect(resolved.summary).toBe('progress resumed at step 6');
    await eventually(() => h.alerts.filter((a) => a.jobId === 'stall-job').length === 2 || undefined, 5000, 'firing and resolved events');
    expect(h.alerts.filter((a) => a.jobId === 'stall-job').map((a) => a.status)).toEqual(['firing', 'resolved']);
  });

  it('gives an attempt whose trainer has not said it runs the startup allowance before calling it stalled', async () => {
    h.scheduler.addJob('slow-start', { monitoring: { failOnNonFiniteLoss: false, stallSeconds: 5 } });
    const t0 = Date.now() - 900_000;
    const running = [{ jobId: 'slow-start', attempt: 1 }];
    await h.publish(SUBJECTS.workerHeartbeat('node-w'), events.heartbeat('node-w', [{}], running, t0));
    await h.publish(SUBJECTS.workerHeartbeat('node-w'), events.heartbeat('node-w', [{}], running, t0 + 60_000));
    await new Promise((r) => setTimeout(r, 400));
    expect(await jobAlerts('slow-start')).toEqual([]); // downloading, importing: not a stall yet
    await h.publish(SUBJECTS.workerHeartbeat('node-w'), events.heartbeat('node-w', [{}], running, t0 + 601_000));
    const alert = await alertOn('slow-start', 'stall');
    expect(alert.summary).toBe('no progress for 601 s since the trainer started, while the trainer process is alive on worker node-w');
  });

  it('does not call a finished trainer stalled: a heartbeat that no longer lists it is not evidence', async () => {
    h.scheduler.addJob('quiet-job', { monitoring: { failOnNonFiniteLoss: false, stallSeconds: 5 } });
    const t0 = Date.now() - 60_000;
    await h.publish(SUBJECTS.jobStatus('quiet-job'), events.status('quiet-job', 'running', t0));
    await h.publish(SUBJECTS.workerHeartbeat('node-q'), events.heartbeat('node-q', [{}], [], t0 + 50_000));
    await new Promise((r) => setTimeout(r, 400));
    expect(await jobAlerts('quiet-job')).toEqual([]);
  });

  it('flags a data-bound job: idle GPUs while the step waits on data, naming the DataLoader settings', async () => {
    h.scheduler.addJob('data-job', {}, { workerId: 'node-d', gpuIndices: [0, 1] });
    await h.publish(SUBJECTS.workerHeartbeat('node-d'), events.heartbeat('node-d', [{ utilizationPercent: 17 }, { utilizationPercent: 19 }, { utilizationPercent: 99 }]));
    await new Promise((r) => setTimeout(r, 300));
    const slow = { workerId: 'node-d', dataWaitSeconds: 0.8, stepSeconds: 1.0 };
    await report('data-job', [1, 0.9, 0.8], 0, slow);
    const alert = await alertOn('data-job', 'data_bound');
    expect(alert.summary).toBe('data-bound: each step waits 0.8 s of 1 s for data (80 %) while the job\'s 2 GPU(s) average 18 % utilisation');
    for (const setting of ['num_workers', 'prefetch_factor', 'persistent_workers=True', 'pin_memory=True']) expect(alert.advice).toContain(setting);
    // Three healthy reports end it.
    await h.publish(SUBJECTS.workerHeartbeat('node-d'), events.heartbeat('node-d', [{ utilizationPercent: 90 }, { utilizationPercent: 92 }, { utilizationPercent: 99 }]));
    await new Promise((r) => setTimeout(r, 300));
    await report('data-job', [0.7, 0.6, 0.5], 3, { workerId: 'node-d', dataWaitSeconds: 0.05, stepSeconds: 1.0 });
    expect((await alertOn('data-job', 'data_bound', 'resolved')).summary).toBe('no longer data-bound (GPUs at 91 %)');
  });

  it('flags one sample per device at a large world size, with the global batch and LR that were meant', async () => {
    h.scheduler.addJob('tiny-job', {}, { resolved: { worldSize: 8, globalBatch: 8, perDeviceBatch: 1, gradAccumSteps: 1, referenceBatch: 8, baseLr: 0.0002, lrScaling: 'linear', lr: 0.0002 } });
    await report('tiny-job', [0.1]);
    const alert = await alertOn('tiny-job', 'tiny_per_device_batch');
    expect(alert.summary).toBe('global batch 8 over 8 processes is 1 sample per device; lr 0.0002');
    expect(alert.advice).toContain('submit hyperparameters.globalBatch 64 (8 × 8): the linear rule from base lr 0.0002 at reference batch 8 gives lr 0.0016');
    expect(alert.advice).toContain('To keep global batch 8, request 1 GPU(s) instead');
  });

  it('raises nothing for a healthy run', async () => {
    h.scheduler.addJob('healthy-job', {}, { workerId: 'node-h', gpuIndices: [0], resolved: { worldSize: 2, globalBatch: 16, perDeviceBatch: 8, gradAccumSteps: 1, referenceBatch: 16, baseLr: 0.001, lrScaling: 'linear', lr: 0.001 } });
    await h.publish(SUBJECTS.workerHeartbeat('node-h'), events.heartbeat('node-h', [{ utilizationPercent: 96 }], [{ jobId: 'healthy-job', attempt: 1 }]));
    const losses = Array.from({ length: 40 }, (_, i) => 2 * Math.exp(-i / 10) + 0.05 * Math.sin(i));
    await report('healthy-job', losses, 0, { workerId: 'node-h', dataWaitSeconds: 0.01, stepSeconds: 0.5 });
    await eventually(async () => (await h.scrape()).some((s) => s.name === 'hounsfield_job_step' && s.labels.job_id === 'healthy-job' && s.value === 39) || undefined);
    const alerts: AlertEvent[] = await jobAlerts('healthy-job');
    expect(alerts).toEqual([]);
  });
});
