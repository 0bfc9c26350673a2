import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MetricSeriesRequest, SERVICE_RPCS, SUBJECTS } from '@hounsfield/contracts';
import { ensureConsumer, eventsConsumerConfig, requestRpc } from '@hounsfield/messaging';
import { AckPolicy } from '@nats-io/jetstream';
import { valueOf } from './exposition-text';
import { eventually, events, MetricsHarness, startMetricsHarness } from './metrics-harness';

describe('ingestion of progress and telemetry, on real NATS and Redis', () => {
  let h: MetricsHarness;

  beforeAll(async () => {
    h = await startMetricsHarness({ HOUNSFIELD_METRICS_POINTS_PER_SERIES: '16', HOUNSFIELD_METRICS_FINISHED_JOB_TTL_SECONDS: '1', HOUNSFIELD_METRICS_WORKER_TTL_SECONDS: '2' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('exposes the latest loss terms, LR, step, throughput and ETA of a job', async () => {
    h.scheduler.addJob('job-a', { name: 'pcdiff-skullbreak', kind: 'pcdiff' });
    const at = Date.now();
    await h.publish(SUBJECTS.jobProgress('job-a'), events.progress('job-a', 0, 10, { loss: 0.5, loss_kl: 0.25, psnr: 21.5 }, { at: new Date(at).toISOString(), totalSteps: 110, lr: 0.0014, samplesPerSecond: 56, stepSeconds: 2, dataWaitSeconds: 0.5, epoch: 1.5 }));
    const samples = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_job_step', { job_id: 'job-a' }) === 10 ? s : undefined;
    });
    expect(valueOf(samples, 'hounsfield_job_loss', { job_id: 'job-a', term: 'loss' })).toBe(0.5);
    expect(valueOf(samples, 'hounsfield_job_loss', { job_id: 'job-a', term: 'loss_kl' })).toBe(0.25);
    expect(valueOf(samples, 'hounsfield_job_metric', { job_id: 'job-a', metric: 'psnr' })).toBe(21.5);
    expect(valueOf(samples, 'hounsfield_job_learning_rate', { job_id: 'job-a' })).toBe(0.0014);
    expect(valueOf(samples, 'hounsfield_job_samples_per_second', { job_id: 'job-a' })).toBe(56);
    expect(valueOf(samples, 'hounsfield_job_data_wait_ratio', { job_id: 'job-a' })).toBe(0.25);
    expect(valueOf(samples, 'hounsfield_job_eta_seconds', { job_id: 'job-a' })).toBe(200);
    expect(valueOf(samples, 'hounsfield_job_epoch', { job_id: 'job-a' })).toBe(1.5);
    expect(valueOf(samples, 'hounsfield_job_info', { job_id: 'job-a', job_name: 'pcdiff-skullbreak', kind: 'pcdiff', worker_id: 'node-a' })).toBe(1);
  });

  it('exposes per-GPU utilisation, memory, temperature and power with worker and GPU labels', async () => {
    await h.publish(SUBJECTS.workerHeartbeat('node-b'), events.heartbeat('node-b', [
      { utilizationPercent: 17, memoryUsedBytes: 3 * 2 ** 30, temperatureCelsius: 61, powerWatts: 180 },
      { utilizationPercent: 95, foreignProcesses: true },
    ]));
    const samples = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_gpu_utilization_ratio', { worker_id: 'node-b', gpu: '1' }) !== undefined ? s : undefined;
    });
    expect(valueOf(samples, 'hounsfield_gpu_utilization_ratio', { worker_id: 'node-b', gpu: '0' })).toBeCloseTo(0.17, 10);
    expect(valueOf(samples, 'hounsfield_gpu_memory_used_bytes', { worker_id: 'node-b', gpu: '0' })).toBe(3 * 2 ** 30);
    expect(valueOf(samples, 'hounsfield_gpu_memory_total_bytes', { worker_id: 'node-b', gpu: '0' })).toBe(80 * 2 ** 30);
    expect(valueOf(samples, 'hounsfield_gpu_temperature_celsius', { worker_id: 'node-b', gpu: '0' })).toBe(61);
    expect(valueOf(samples, 'hounsfield_gpu_power_watts', { worker_id: 'node-b', gpu: '0' })).toBe(180);
    expect(valueOf(samples, 'hounsfield_gpu_foreign_processes', { worker_id: 'node-b', gpu: '1' })).toBe(1);
    expect(valueOf(samples, 'hounsfield_gpu_info', { worker_id: 'node-b', gpu: '0', uuid: 'GPU-node-b-0', name: 'NVIDIA H100 80GB HBM3' })).toBe(1);
  });

  it('drops the GPU series of a worker that stopped sending heartbeats', async () => {
    await h.publish(SUBJECTS.workerHeartbeat('node-gone'), events.heartbeat('node-gone', [{ utilizationPercent: 50 }]));
    await eventually(async () => valueOf(await h.scrape(), 'hounsfield_gpu_utilization_ratio', { worker_id: 'node-gone', gpu: '0' }) === 0.5 || undefined);
    // Worker TTL 2 s: without further heartbeats its series go.
    const after = await eventually(async () => {
      const s = await h.scrape();
      return s.some((sample) => sample.labels.worker_id === 'node-gone') ? undefined : s;
    }, 10_000, 'series of the silent worker removed');
    expect(valueOf(after, 'hounsfield_worker_info', { worker_id: 'node-gone' })).toBeUndefined();
  });

  it('terminates malformed and unknown-version events, counts them, and keeps consuming', async () => {
    const before = await h.scrape();
    const count = (s: typeof before, reason: string) => valueOf(s, 'hounsfield_events_rejected_total', { reason }) ?? 0;
    h.scheduler.addJob('job-after-garbage');
    await h.publishRaw(SUBJECTS.jobProgress('job-x'), '{not json');
    await h.publish(SUBJECTS.jobProgress('job-x'), { ...events.progress('job-x', 0, 1, { loss: 1 }), v: 99 });
    await h.publish(SUBJECTS.jobProgress('job-x'), { ...events.progress('job-x', 0, 1, { loss: 1 }), step: -3 });
    await h.publish(SUBJECTS.jobProgress('job-after-garbage'), events.progress('job-after-garbage', 0, 7, { loss: 0.1 }));
    const after = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_job_step', { job_id: 'job-after-garbage' }) === 7 ? s : undefined;
    });
    expect(count(after, 'malformed_json') - count(before, 'malformed_json')).toBe(1);
    expect(count(after, 'unknown_version') - count(before, 'unknown_version')).toBe(1);
    expect(count(after, 'invalid_event') - count(before, 'invalid_event')).toBe(1);
    // Terminated, not redelivered: the consumer has nothing left pending for them.
    const info = await h.nats.jsm.consumers.info('HF_EVENTS', 'metrics');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_redelivered).toBe(0);
  });

  it('stores series downsampled to the point budget, each point the mean of its steps, and serves them by name and step range', async () => {
    h.scheduler.addJob('job-long');
    // 64 reports of loss = step; the budget is 16 points, so the stride grows to 4.
    for (let step = 0; step < 64; step += 1) {
      await h.publish(SUBJECTS.jobProgress('job-long'), events.progress('job-long', step, step, { loss: step }, { lr: 0.1 }));
    }
    const read = (request: MetricSeriesRequest) => requestRpc(h.nats.nc, SERVICE_RPCS.jobMetrics, request);
    const all = await eventually(async () => {
      const m = await read({ jobId: 'job-long', names: ['loss'] });
      const points = m.series[0]?.points ?? [];
      return points.length > 0 && points[points.length - 1].step === 63 ? m : undefined;
    });
    const loss = all.series[0];
    expect(loss.name).toBe('loss');
    expect(loss.stride).toBe(4);
    expect(loss.points).toHaveLength(16);
    loss.points.forEach((p, i) => {
      // Bucket i holds steps 4i..4i+3: mean 4i + 1.5, min 4i, max 4i + 3.
      expect(p).toMatchObject({ step: 4 * i + 3, value: 4 * i + 1.5, min: 4 * i, max: 4 * i + 3, count: 4, nonFinite: 0, attempt: 1 });
    });
    const names = (await read({ jobId: 'job-long' })).series.map((s) => s.name);
    expect(names).toEqual(['loss', 'lr']);
    const window = await read({ jobId: 'job-long', names: ['loss'], fromStep: 20, toStep: 31 });
    expect(window.series[0].points.map((p) => p.step)).toEqual([23, 27, 31]);
  });

  it('lets a resumed attempt replace the steps it re-runs, and keeps the steps before its checkpoint', async () => {
    h.scheduler.addJob('job-resume');
    for (let step = 0; step < 6; step += 1) await h.publish(SUBJECTS.jobProgress('job-resume'), events.progress('job-resume', step, step, { loss: 10 + step }));
    // Attempt 2 resumed from a checkpoint at step 3 and reports steps 3..5 again, with other values.
    for (let step = 3; step < 6; step += 1) await h.publish(SUBJECTS.jobProgress('job-resume'), events.progress('job-resume', step, step, { loss: 20 + step }, { attempt: 2 }));
    const m = await eventually(async () => {
      const r = await requestRpc(h.nats.nc, SERVICE_RPCS.jobMetrics, { jobId: 'job-resume', names: ['loss'] });
      return r.series[0]?.points.at(-1)?.attempt === 2 && r.series[0].points.at(-1)?.step === 5 ? r : undefined;
    });
    expect(m.series[0].points.map((p) => [p.step, p.attempt, p.value])).toEqual([[0, 1, 10], [1, 1, 11], [2, 1, 12], [3, 2, 23], [4, 2, 24], [5, 2, 25]]);
  });

  it('stores at most the configured number of series per job, and counts what it drops', async () => {
    const limited = await startMetricsHarness({ HOUNSFIELD_METRICS_SERIES_PER_JOB: '2' });
    try {
      limited.scheduler.addJob('job-wide');
      const odd = 'val;loss=a,b|c%\nx';
      await limited.publish(SUBJECTS.jobProgress('job-wide'), events.progress('job-wide', 0, 0, { [odd]: 1, b: 2, c: 3 }));
      await limited.publish(SUBJECTS.jobProgress('job-wide'), events.progress('job-wide', 1, 1, { [odd]: 4, b: 5, c: 6 }));
      const m = await eventually(async () => {
        const r = await requestRpc(limited.nats.nc, SERVICE_RPCS.jobMetrics, { jobId: 'job-wide' });
        return r.series.find((s) => s.name === odd)?.points.length === 2 ? r : undefined;
      });
      expect(m.series.map((s) => s.name)).toEqual(['b', odd]);
      expect(m.series.find((s) => s.name === odd)?.points.map((p) => p.value)).toEqual([1, 4]);
      expect(valueOf(await limited.scrape(), 'hounsfield_series_dropped_total')).toBe(2);
    } finally {
      await limited.close();
    }
  });

  it('counts a redelivered report once', async () => {
    h.scheduler.addJob('job-dup');
    const report = events.progress('job-dup', 5, 5, { loss: 2 });
    await h.nats.js.publish(SUBJECTS.jobProgress('job-dup'), new TextEncoder().encode(JSON.stringify(report)), { msgID: 'dup-a' });
    await h.nats.js.publish(SUBJECTS.jobProgress('job-dup'), new TextEncoder().encode(JSON.stringify(report)), { msgID: 'dup-b' });
    await h.publish(SUBJECTS.jobProgress('job-dup'), events.progress('job-dup', 6, 6, { loss: 4 }));
    const m = await eventually(async () => {
      const r = await requestRpc(h.nats.nc, SERVICE_RPCS.jobMetrics, { jobId: 'job-dup', names: ['loss'] });
      return r.series[0]?.points.length === 2 ? r : undefined;
    });
    expect(m.series[0].points.map((p) => [p.step, p.value, p.count])).toEqual([[5, 2, 1], [6, 4, 1]]);
  });

  it('counts jobs per state, times queue wait and dispatch, and drops a finished job\'s series after the TTL', async () => {
    h.scheduler.addJob('job-life');
    const t0 = Date.now() - 10_000;
    await h.publish(SUBJECTS.jobState('job-life'), events.state('job-life', 'queued', t0));
    await h.publish(SUBJECTS.jobState('job-life'), events.state('job-life', 'assigned', t0 + 4000, 1, 'queued'));
    await h.publish(SUBJECTS.jobState('job-life'), events.state('job-life', 'starting', t0 + 4500, 1, 'assigned'));
    await h.publish(SUBJECTS.jobState('job-life'), events.state('job-life', 'running', t0 + 6000, 1, 'starting'));
    await h.publish(SUBJECTS.jobProgress('job-life'), events.progress('job-life', 0, 1, { loss: 1 }));
    const running = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_job_step', { job_id: 'job-life' }) === 1 && (valueOf(s, 'hounsfield_jobs', { state: 'running' }) ?? 0) >= 1 ? s : undefined;
    }, 5000, 'running job counted');
    expect(valueOf(running, 'hounsfield_job_queue_wait_seconds_sum')).toBe(4);
    expect(valueOf(running, 'hounsfield_job_queue_wait_seconds_count')).toBe(1);
    expect(valueOf(running, 'hounsfield_job_dispatch_latency_seconds_sum')).toBe(0.5);

    await h.publish(SUBJECTS.jobState('job-life'), events.state('job-life', 'succeeded', Date.now(), 1, 'running'));
    const finished = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_jobs_finished_total', { state: 'succeeded' }) === 1 ? s : undefined;
    }, 5000, 'finished counted');
    expect(valueOf(finished, 'hounsfield_jobs', { state: 'succeeded' })).toBe(1);
    // TTL 1 s: the job's series and its count disappear, the finished counter stays.
    const gone = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_job_step', { job_id: 'job-life' }) === undefined && valueOf(s, 'hounsfield_jobs', { state: 'succeeded' }) === 0 ? s : undefined;
    });
    expect(gone.some((s) => s.labels.job_id === 'job-life')).toBe(false);
    expect(valueOf(gone, 'hounsfield_jobs_finished_total', { state: 'succeeded' })).toBe(1);
  });

  it('keeps ingesting with default thresholds while the scheduler does not answer', async () => {
    h.scheduler.stop();
    await h.publish(SUBJECTS.jobProgress('job-orphan'), events.progress('job-orphan', 0, 3, { loss: 0.5 }));
    const samples = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_job_step', { job_id: 'job-orphan' }) === 3 ? s : undefined;
    });
    expect(valueOf(samples, 'hounsfield_job_info', { job_id: 'job-orphan', job_name: 'job-orphan', kind: 'unknown' })).toBe(1);
    expect(valueOf(samples, 'hounsfield_job_loss', { job_id: 'job-orphan', term: 'loss' })).toBe(0.5);
    const stored = await requestRpc(h.nats.nc, SERVICE_RPCS.jobMetrics, { jobId: 'job-orphan' });
    expect(stored.series.map((s) => s.name)).toEqual(['loss']);
  });

  it('replaces the explicit-ack consumer an earlier release left, and reads the stream again', async () => {
    const earlier = await startMetricsHarness({}, async (nats) => {
      await ensureConsumer(nats.jsm, 'HF_EVENTS', eventsConsumerConfig('metrics', [SUBJECTS.jobProgressAll, SUBJECTS.workerHeartbeatAll]));
      await nats.js.publish(SUBJECTS.jobProgress('job-before'), new TextEncoder().encode(JSON.stringify(events.progress('job-before', 0, 9, { loss: 0.3 }))));
    });
    try {
      const info = await earlier.nats.jsm.consumers.info('HF_EVENTS', 'metrics');
      expect(info.config.ack_policy).toBe(AckPolicy.All);
      expect(info.config.filter_subjects ?? [info.config.filter_subject]).toEqual([SUBJECTS.eventsAll]);
      await eventually(async () => valueOf(await earlier.scrape(), 'hounsfield_job_step', { job_id: 'job-before' }) === 9 || undefined);
    } finally {
      await earlier.close();
    }
  });

  it('raises the ack-pending limit of a batch consumer left with the server default, in place', async () => {
    const earlier = await startMetricsHarness({ HOUNSFIELD_METRICS_BATCH_SIZE: '300' }, async (nats) => {
      await ensureConsumer(nats.jsm, 'HF_EVENTS', { ...eventsConsumerConfig('metrics', [SUBJECTS.eventsAll]), ack_policy: AckPolicy.All });
      await nats.js.publish(SUBJECTS.jobProgress('job-kept'), new TextEncoder().encode(JSON.stringify(events.progress('job-kept', 0, 4, { loss: 0.3 }))));
      await nats.js.consumers.get('HF_EVENTS', 'metrics').then((c) => c.next()).then((m) => m?.ack());
    });
    try {
      const info = await earlier.nats.jsm.consumers.info('HF_EVENTS', 'metrics');
      expect(info.config.max_ack_pending).toBe(1200);
      // The same durable: what it had acked stays acked.
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(1);
    } finally {
      await earlier.close();
    }
  });
});
