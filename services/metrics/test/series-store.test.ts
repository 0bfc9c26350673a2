import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MetricValue, ProgressEvent, SCHEMA_VERSION } from '@hounsfield/contracts';
import { ServerHandle, startRedisServer } from '@hounsfield/testing';
import Redis from 'ioredis';
import { loadMetricsConfig } from '../src/config';
import { SeriesBuffer } from '../src/series/series.buffer';
import { SeriesRepository } from '../src/series/series.repository';

/**
 * Reports merged in memory before the store script sees them (batches of several reports of a
 * bucket) must leave exactly what the script makes of the same reports sent one per batch (the
 * reference). Values are multiples of 1/4, so sums are exact in any order.
 */
describe('stored series of merged batches, on a real Redis', () => {
  let server: ServerHandle;
  let redis: Redis;
  let repository: SeriesRepository;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    const config = loadMetricsConfig({
      HOUNSFIELD_NATS_URL: 'nats://127.0.0.1:1',
      HOUNSFIELD_REDIS_URL: server.url,
      HOUNSFIELD_REDIS_PREFIX: 'merge-test:',
      HOUNSFIELD_METRICS_POINTS_PER_SERIES: '16',
      HOUNSFIELD_METRICS_SERIES_PER_JOB: '4',
    });
    repository = new SeriesRepository(redis, config);
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  function report(jobId: string, attempt: number, seq: number, step: number, metrics: Record<string, MetricValue>): ProgressEvent {
    return { v: SCHEMA_VERSION, type: 'progress', jobId, attempt, workerId: 'w', seq, step, metrics, lr: step % 3 === 0 ? 0.5 : 0.25, at: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString() };
  }

  /** Stores the batches in order; returns the values dropped and how often the store asked for single reports. */
  async function store(batches: ProgressEvent[][]): Promise<{ dropped: number; redone: number }> {
    let dropped = 0;
    let redone = 0;
    for (const batch of batches) {
      const buffer = new SeriesBuffer((jobId) => repository.strideOf(jobId));
      for (const event of batch) buffer.add(event);
      const appends = buffer.drain().map((a) => ({ ...a, unmerged: () => ((redone += 1), a.unmerged()) }));
      dropped += await repository.append(appends);
    }
    return { dropped, redone };
  }

  const read = (jobId: string) => repository.read({ jobId });
  const singly = (events: ProgressEvent[]) => events.map((e) => [e]);
  const inBatchesOf = (size: number, events: ProgressEvent[]) => Array.from({ length: Math.ceil(events.length / size) }, (_, i) => events.slice(i * size, (i + 1) * size));

  /** 150 steps of attempt 1, a resume from step 100 as attempt 2, NaN and ±Inf losses, a duplicate, and more series than allowed. */
  function run(jobId: string): ProgressEvent[] {
    const events: ProgressEvent[] = [];
    let seq = 0;
    for (let step = 0; step < 150; step += 1) {
      const loss: MetricValue = step % 17 === 5 ? 'NaN' : step % 23 === 7 ? 'Infinity' : step / 4;
      const metrics: Record<string, MetricValue> = { loss, 'val;acc=1': (step % 8) / 4 };
      if (step > 40) metrics.grad_norm = 3 - step / 8;
      if (step > 60) metrics.extra = 1;
      events.push(report(jobId, 1, seq, step, metrics));
      if (step === 70 || step === 71) events.push(report(jobId, 1, seq, step, metrics)); // delivered twice
      seq += 1;
    }
    for (let step = 100; step < 190; step += 1) events.push(report(jobId, 2, seq++, step, { loss: step / 2, extra: 2 }));
    return events;
  }

  it('match the reports stored one by one: points, counts, attempts, and the values dropped beyond the series limit', async () => {
    const reference = await store(singly(run('ref')));
    const merged = await store(inBatchesOf(9, run('merged')));
    expect(merged.redone).toBe(0);
    expect(merged.dropped).toBe(reference.dropped);
    expect(reference.dropped).toBeGreaterThan(0);
    const expected = await read('ref');
    expect(expected[0].stride).toBeGreaterThan(1);
    expect(await read('merged')).toEqual(expected);
  });

  it('take a redelivery cut into other batches (part of a merged line already stored) report by report', async () => {
    const events = run('redelivered');
    const reference = run('ref-redelivered');
    await store(singly(reference.slice(0, 60)));
    // A first reader stored 0..40 (stride 4 by then), the next reader gets 37..59 again in batches that straddle it.
    const first = await store([events.slice(0, 41)]);
    const again = await store(inBatchesOf(12, events.slice(37, 60)));
    expect(first.redone + again.redone).toBeGreaterThan(0);
    expect(await read('redelivered')).toEqual(await read('ref-redelivered'));
  });

  it('send single reports where the buckets are finer than last seen (the series were deleted meanwhile)', async () => {
    const events = run('deleted');
    await store([events.slice(0, 60)]);
    expect(repository.strideOf('deleted')).toBeGreaterThan(1);
    await redis.del('merge-test:metrics:series:{deleted}', 'merge-test:metrics:series-names:{deleted}');
    const after = await store(inBatchesOf(10, events.slice(60, 80)));
    expect(after.redone).toBe(1);
    await store(singly(run('ref-deleted').slice(60, 80)));
    expect(await read('deleted')).toEqual(await read('ref-deleted'));
  });
});
