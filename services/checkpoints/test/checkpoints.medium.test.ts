import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RpcFailure } from '@hounsfield/messaging';
import { randomBytes } from 'node:crypto';
import { sha256 } from './checkpoint-client';
import { Driver, eventually, Harness, startHarness, storedKeys } from './service-harness';

const MiB = 1024 * 1024;
let jobCounter = 0;
const newJob = (name: string) => `${name}-${Date.now().toString(36)}-${(jobCounter += 1)}`;

/** 2.5 MiB of weights (three 1 MiB parts) and a small optimizer file. */
function checkpointFiles(seed = 0): Record<string, Buffer> {
  const weights = randomBytes(2.5 * MiB);
  weights[0] = seed;
  return { 'model.safetensors': weights, 'optimizer.pt': randomBytes(300 * 1024) };
}

async function rejection(commit: Promise<unknown>): Promise<RpcFailure> {
  const error = await commit.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcFailure);
  return error as RpcFailure;
}

describe.each<Driver>(['fs', 's3'])('checkpoints service on the %s store', (driver) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(driver);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('commits a verified upload, lists it, resolves latest and downloads identical bytes', async () => {
    const jobId = newJob('commit');
    const files = checkpointFiles();
    const record = await h.client.commit({ jobId, step: 100, files, metrics: { loss: 0.5 } });

    expect(record).toMatchObject({ jobId, attempt: 1, step: 100, totalSize: expect.any(Number) });
    expect(record.meta.metrics).toEqual({ loss: 0.5 });
    expect(record.files.find((f) => f.name === 'model.safetensors')?.parts).toHaveLength(3);
    expect((await h.client.list(jobId)).map((r) => r.id)).toEqual([record.id]);
    expect((await h.client.resolve(`${jobId}:latest`)).id).toBe(record.id);
    const downloaded = await h.client.download(record, 'model.safetensors');
    expect(sha256(downloaded)).toBe(sha256(files['model.safetensors']));
  });

  it.each([
    ['a truncated file', 'truncated', (file: string, part: number, bytes: Buffer) => (file === 'model.safetensors' && part === 2 ? bytes.subarray(0, 1000) : bytes)],
    ['a wrong hash', 'altered', (file: string, part: number, bytes: Buffer) => (file === 'optimizer.pt' ? Buffer.from(bytes).fill(7, 0, 10) : bytes)],
    ['a missing file', 'missing', (file: string) => (file === 'optimizer.pt' ? ('skip' as const) : Buffer.alloc(0))],
  ])('rejects %s with the reason, keeps the previous latest, and deletes the upload', async (_what, kind, tamper) => {
    const jobId = newJob('reject');
    const good = await h.client.commit({ jobId, step: 10, files: checkpointFiles() });
    const files = checkpointFiles(1);
    const keep = (file: string, part: number, bytes: Buffer) => {
      const result = tamper(file, part, bytes);
      return result === 'skip' || result.length > 0 ? result : bytes;
    };
    // Parts are not reported, as from a worker that died before it could: the commit finds it all.
    const upload = await h.client.upload({ jobId, step: 20, files, tamper: keep, reportParts: false });
    const failure = await rejection(upload.commit());

    expect(failure.error.code).toBe('invalid_request');
    expect(failure.error.message).toContain(`(${kind})`);
    const problems = failure.error.details?.problems as { kind: string }[];
    expect(problems.map((p) => p.kind)).toContain(kind);
    expect((await h.client.resolve('latest', jobId)).id).toBe(good.id);
    expect((await h.client.list(jobId)).map((r) => r.id)).toEqual([good.id]);
    const keys = await eventually(() => storedKeys(h.store, jobId), (k) => k.every((key) => !key.includes(upload.session.uploadId)));
    expect(keys.some((k) => k.includes(upload.session.uploadId))).toBe(false);
    // A second commit of a rejected upload is refused; the worker must upload again.
    expect((await rejection(upload.commit())).error.code).toBe('conflict');
  });

  it('tells the worker at once when a reported part is short', async () => {
    const jobId = newJob('part');
    const tamper = (_file: string, part: number, bytes: Buffer) => (part === 1 ? bytes.subarray(0, 10) : bytes);
    const upload = await h.client.upload({ jobId, step: 1, files: checkpointFiles(), tamper, reportParts: true });
    expect(upload.partErrors.map((e) => e.error.message)).toEqual([
      `model.safetensors part 1 has 10 bytes in the store, the manifest says ${MiB} (truncated)`,
    ]);
    expect((await rejection(upload.commit())).error.code).toBe('invalid_request');
  });

  it('keeps latest atomic under concurrent commits: the newest attempt, then the highest step', async () => {
    const jobId = newJob('race');
    const uploads = await Promise.all([3, 1, 4, 5, 2].map((step) => h.client.upload({ jobId, step, files: { 'model.safetensors': randomBytes(64 * 1024) } })));
    const resolved: string[] = [];
    const committed = await Promise.all([
      ...uploads.map((u) => u.commit()),
      // Readers racing the commits only ever see committed checkpoints.
      ...[0, 1, 2, 3].map(async () => {
        const record = await h.client.resolve('latest', jobId).catch(() => undefined);
        if (record) resolved.push(record.id);
        return record;
      }),
    ]);
    const ids = new Set(committed.slice(0, uploads.length).map((r) => r?.id));
    expect(resolved.every((id) => ids.has(id))).toBe(true);
    const latest = await h.client.resolve('latest', jobId);
    expect(latest.step).toBe(5);
    expect((await h.client.list(jobId)).map((r) => r.step)).toEqual([5, 4, 3, 2, 1]);

    // A restarted attempt resumed from step 5 and committed step 6; a late commit of the old attempt cannot move latest back.
    await h.client.commit({ jobId, attempt: 2, step: 6, files: { 'model.safetensors': randomBytes(1024) } });
    await h.client.commit({ jobId, attempt: 1, step: 9, files: { 'model.safetensors': randomBytes(1024) } });
    expect(await h.client.resolve('latest', jobId)).toMatchObject({ attempt: 2, step: 6 });
    expect((await h.client.resolve('9', jobId)).attempt).toBe(1);
  });

  it('keeps exactly what retention says and deletes the rest from the store', async () => {
    const jobId = newJob('retention');
    const loss: Record<number, number> = { 10: 0.9, 20: 0.3, 30: 0.8, 40: 0.1, 50: 0.7, 60: 0.6, 70: 0.5, 80: 0.4, 90: 0.95, 100: 0.99 };
    const retention = { keepLast: 2, keepBest: { metric: 'loss', mode: 'min' as const, count: 2 }, keepEvery: 50 };
    const records = [];
    for (const step of Object.keys(loss).map(Number)) {
      records.push(await h.client.commit({ jobId, step, files: { 'model.safetensors': randomBytes(16 * 1024) }, metrics: { loss: loss[step] }, retention }));
    }
    // last 2: 90, 100; best 2 by min loss: 40, 20; every 50: 50, 100.
    const expected = [100, 90, 50, 40, 20];
    expect((await h.client.list(jobId)).map((r) => r.step)).toEqual(expected);
    const keptIds = new Set(records.filter((r) => expected.includes(r.step)).map((r) => r.id));
    const keys = await eventually(
      () => storedKeys(h.store, jobId),
      (k) => new Set(k.map((key) => key.split('/')[3])).size === keptIds.size,
    );
    expect(new Set(keys.map((key) => key.split('/')[3]))).toEqual(keptIds);
    // Each kept checkpoint is whole: model part and meta.json.
    expect(keys).toHaveLength(keptIds.size * 2);
  });

  it('resolves best:<metric>:<min|max>, by step, and qualified references', async () => {
    const jobId = newJob('best');
    const metrics: Record<number, Record<string, number>> = { 1: { loss: 0.5, dice: 0.7 }, 2: { loss: 0.2, dice: 0.6 }, 3: { loss: 0.4, dice: 0.9 } };
    for (const step of [1, 2, 3]) await h.client.commit({ jobId, step, files: { 'model.safetensors': randomBytes(1024) }, metrics: metrics[step] });
    expect((await h.client.resolve('best:loss:min', jobId)).step).toBe(2);
    expect((await h.client.resolve(`${jobId}:best:dice:max`)).step).toBe(3);
    expect((await h.client.resolve(`${jobId}:1`)).step).toBe(1);
    const missing = await rejection(h.client.resolve('best:psnr:max', jobId));
    expect(missing.error.code).toBe('not_found');
    expect(missing.error.message).toContain(`no committed checkpoint of job ${jobId} matches best:psnr:max`);
  });

  it('keeps a resolved checkpoint downloadable while its pin lasts, even after retention retired it', async () => {
    const jobId = newJob('pin');
    const first = await h.client.commit({ jobId, step: 1, files: { 'model.safetensors': randomBytes(4096) } });
    const pinned = await h.client.resolve('latest', jobId, 2);
    expect(pinned.id).toBe(first.id);
    await h.client.commit({ jobId, step: 2, files: { 'model.safetensors': randomBytes(4096) }, retention: { keepLast: 1 } });

    expect((await h.client.list(jobId)).map((r) => r.step)).toEqual([2]);
    expect((await h.client.download(pinned, 'model.safetensors')).length).toBe(4096);
    // A worker resolving the id the scheduler pinned still finds it while the pin lasts.
    expect((await h.client.resolve(first.id)).id).toBe(first.id);
    const keys = await eventually(() => storedKeys(h.store, jobId), (k) => !k.some((key) => key.includes(first.id)), 20_000);
    expect(keys.some((key) => key.includes(first.id))).toBe(false);
    expect((await rejection(h.client.download(pinned, 'model.safetensors'))).error.code).toBe('not_found');
  });
});

describe('uploads that are never committed', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('fs', { HOUNSFIELD_CHECKPOINT_UPLOAD_TTL_SECONDS: '1' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('are deleted from the store once they expire', async () => {
    const jobId = newJob('abandoned');
    const upload = await h.client.upload({ jobId, step: 1, files: { 'model.safetensors': randomBytes(2048) } });
    expect((await storedKeys(h.store, jobId)).length).toBeGreaterThan(0);
    expect(await eventually(() => storedKeys(h.store, jobId), (k) => k.length === 0)).toEqual([]);
    expect((await rejection(upload.commit())).error.code).toBe('not_found');
  });
});
