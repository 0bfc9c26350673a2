import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA_VERSION, SUBJECTS } from '@hounsfield/contracts';
import { promtoolCheckMetrics } from '@hounsfield/testing';
import { valueOf } from './exposition-text';
import { eventually, events, MetricsHarness, startMetricsHarness } from './metrics-harness';

describe('the /metrics exposition', () => {
  let h: MetricsHarness;

  beforeAll(async () => {
    h = await startMetricsHarness();
    // Every family gets samples: a job with loss terms (one NaN), scalars and checkpoints, GPUs,
    // state changes with both histograms, a queue, leases and an alert.
    const job = h.scheduler.addJob('expo-job', { name: 'voxelization "quoted"\nname', kind: 'voxelization' }, { workerId: 'node-e', gpuIndices: [0] });
    h.scheduler.queued = [{ ...job, id: 'queued-job', state: 'queued', pendingReason: 'needs 7 GPUs with ≥ 30 GiB on one worker; the largest free block is 4 on node-b', queuePosition: 1 }];
    h.scheduler.workers = [{ workerId: 'node-e', hostname: 'node-e', simulated: true, lastSeenAt: new Date().toISOString(), kinds: [], activeJobs: ['expo-job'], gpus: [{ index: 0, uuid: 'u0', name: 'H100', memoryTotalBytes: 1, memoryUsedBytes: 0, utilizationPercent: 0, temperatureCelsius: 30, foreignProcesses: false, leasedBy: 'expo-job' }] }];
    const t0 = Date.now() - 60_000;
    await h.publish(SUBJECTS.jobState('expo-job'), events.state('expo-job', 'queued', t0));
    await h.publish(SUBJECTS.jobState('expo-job'), events.state('expo-job', 'assigned', t0 + 1000, 1, 'queued'));
    await h.publish(SUBJECTS.jobState('expo-job'), events.state('expo-job', 'starting', t0 + 1200, 1, 'assigned'));
    await h.publish(SUBJECTS.workerHeartbeat('node-e'), events.heartbeat('node-e', [{ utilizationPercent: 55, powerWatts: 300 }], [{ jobId: 'expo-job', attempt: 1 }]));
    await h.publish(SUBJECTS.jobProgress('expo-job'), events.progress('expo-job', 0, 1, { loss: 0.3, psr_l2: 0.01, dice: 0.8 }, { workerId: 'node-e', totalSteps: 10, lr: 1e-3, samplesPerSecond: 4, stepSeconds: 1, dataWaitSeconds: 0.1, epoch: 0.1 }));
    await h.publish(SUBJECTS.jobProgress('expo-job'), events.progress('expo-job', 1, 2, { loss: 'NaN', psr_l2: 'Infinity', dice: 0.81 }, { workerId: 'node-e' }));
    await h.publish(SUBJECTS.checkpointEvents('expo-job'), {
      v: SCHEMA_VERSION, type: 'checkpoint', action: 'committed', jobId: 'expo-job', attempt: 1, step: 2,
      checkpointId: 'ck-0123456789abcdef01234567', totalSize: 4096, metrics: { loss: 0.3 }, at: new Date().toISOString(),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('has every family populated, including checkpoints, queue and leases', async () => {
    const samples = await eventually(async () => {
      const s = await h.scrape();
      return valueOf(s, 'hounsfield_checkpoints_total', { action: 'committed' }) === 1 && valueOf(s, 'hounsfield_job_pending_info', { job_id: 'queued-job' }) === 1 ? s : undefined;
    });
    expect(valueOf(samples, 'hounsfield_checkpoint_bytes_total', { action: 'committed' })).toBe(4096);
    expect(valueOf(samples, 'hounsfield_job_last_checkpoint_step', { job_id: 'expo-job' })).toBe(2);
    expect(valueOf(samples, 'hounsfield_job_loss', { job_id: 'expo-job', term: 'loss' })).toBeNaN();
    expect(valueOf(samples, 'hounsfield_job_metric', { job_id: 'expo-job', metric: 'psr_l2' })).toBe(Infinity);
    expect(valueOf(samples, 'hounsfield_gpu_lease_info', { worker_id: 'node-e', gpu: '0', job_id: 'expo-job' })).toBe(1);
    expect(valueOf(samples, 'hounsfield_queue_jobs', { queue: 'cpu' })).toBe(1);
    expect(valueOf(samples, 'hounsfield_scheduler_up')).toBe(1);
    expect(valueOf(samples, 'hounsfield_job_pending_info', { job_id: 'queued-job' })).toBe(1);
    expect(samples.find((s) => s.name === 'hounsfield_job_pending_info')?.labels.reason).toBe('needs 7 GPUs with ≥ 30 GiB on one worker; the largest free block is 4 on node-b');
    expect(samples.find((s) => s.name === 'hounsfield_job_info' && s.labels.job_id === 'expo-job')?.labels.job_name).toBe('voxelization "quoted"\nname');
    expect(valueOf(samples, 'hounsfield_job_alerts_firing', { job_id: 'expo-job', kind: 'non_finite_loss' })).toBe(1);
  });

  it('passes promtool check metrics', async () => {
    const text = await h.scrapeText();
    expect(text).toContain('hounsfield_job_queue_wait_seconds_bucket');
    const result = promtoolCheckMetrics(text);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });
});
