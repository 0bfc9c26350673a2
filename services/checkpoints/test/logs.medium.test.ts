import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  accessGrantSchema,
  formatLogLine,
  LogAttemptSummary,
  logAttemptSummarySchema,
  LogReadReply,
  LogReadRequest,
  LogSource,
  SCHEMA_VERSION,
  SERVICE_RPCS,
  WORKER_RPC,
  workerRpcSubject,
} from '@hounsfield/contracts';
import { requestRpc, RpcFailure } from '@hounsfield/messaging';
import type { NatsConnection } from '@nats-io/nats-core';
import { writeGrant } from './checkpoint-client';
import { Driver, eventually, Harness, startHarness } from './service-harness';

let jobCounter = 0;
const newJob = (name: string) => `${name}-${Date.now().toString(36)}-${(jobCounter += 1)}`;

/** Line `seq` of the test logs: ranks 0 and 1 alternate, with a launcher line every tenth. */
function line(seq: number): { rank: LogSource; text: string } {
  return { rank: seq % 10 === 9 ? 'launcher' : seq % 2, text: `line ${seq} ${'·'.repeat(seq % 7)}` };
}

/** What the worker's shipper does for one segment: store its bytes through a grant, then commit. */
async function storeSegment(
  nc: NatsConnection,
  jobId: string,
  segment: { index: number; firstSeq: number; lines: number; closed?: boolean; droppedBefore?: number; final?: boolean; attempt?: number },
  lineOf: (seq: number) => { rank: LogSource; text: string } = line,
): Promise<LogAttemptSummary> {
  const attempt = segment.attempt ?? 1;
  const text = Array.from({ length: segment.lines }, (_, i) => `${formatLogLine(lineOf(segment.firstSeq + i))}\n`).join('');
  const bytes = Buffer.from(text, 'utf8');
  const grant = await requestRpc(nc, workerRpcSubject('log-worker', WORKER_RPC.logsSegmentGrant), { v: SCHEMA_VERSION, jobId, attempt, index: segment.index }, accessGrantSchema);
  await writeGrant(grant, bytes);
  return commit(nc, jobId, { ...segment, attempt, bytes: bytes.length });
}

function commit(
  nc: NatsConnection,
  jobId: string,
  segment: { index: number; firstSeq: number; lines: number; bytes: number; attempt: number; closed?: boolean; droppedBefore?: number; final?: boolean },
): Promise<LogAttemptSummary> {
  return requestRpc(
    nc,
    workerRpcSubject('log-worker', WORKER_RPC.logsSegmentCommit),
    {
      v: SCHEMA_VERSION,
      jobId,
      attempt: segment.attempt,
      index: segment.index,
      firstSeq: segment.firstSeq,
      lines: segment.lines,
      bytes: segment.bytes,
      closed: segment.closed ?? false,
      droppedBefore: segment.droppedBefore ?? 1,
      final: segment.final ?? false,
      capturedAt: new Date().toISOString(),
      maxBytes: 1024 * 1024,
    },
    logAttemptSummarySchema,
  );
}

function read(nc: NatsConnection, request: Omit<LogReadRequest, 'v'>): Promise<LogReadReply> {
  return requestRpc(nc, SERVICE_RPCS.logsRead, { v: SCHEMA_VERSION, ...request });
}

/** Every page of a read, as the gateway pages it. */
async function readAll(nc: NatsConnection, request: Omit<LogReadRequest, 'v'>): Promise<{ first: LogReadReply; lines: string[]; pages: number }> {
  const first = await read(nc, request);
  const lines = first.lines.map(formatLogLine);
  let next = first.nextAfterSeq;
  let pages = 1;
  while (next !== null) {
    const page = await read(nc, { jobId: request.jobId, attempt: first.attempt ?? undefined, rank: request.rank, afterSeq: next, untilSeq: first.lastSeq, maxBytes: request.maxBytes });
    lines.push(...page.lines.map(formatLogLine));
    next = page.nextAfterSeq;
    pages += 1;
  }
  return { first, lines, pages };
}

const expected = (from: number, to: number, keep: (l: { rank: LogSource }) => boolean = () => true) =>
  Array.from({ length: to - from }, (_, i) => line(from + i))
    .filter(keep)
    .map(formatLogLine);

describe.each<Driver>(['fs', 's3'])('attempt logs in the checkpoints service on the %s store', (driver) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(driver);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('stores segments as they grow and reads them back whole, paged, by rank and by tail', async () => {
    const jobId = newJob('read');
    const nc = h.nats.nc;
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 400 });
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 1000, closed: true }); // the open segment, stored again as it grew
    const summary = await storeSegment(nc, jobId, { index: 1, firstSeq: 1000, lines: 500 });
    expect(summary).toMatchObject({ attempt: 1, lines: 1500, complete: false });

    const whole = await readAll(nc, { jobId, maxBytes: 4096 });
    expect(whole.first).toMatchObject({ attempt: 1, lastSeq: 1499, complete: false });
    expect(whole.pages).toBeGreaterThan(5);
    expect(whole.lines).toEqual(expected(0, 1500));

    const rank1 = await readAll(nc, { jobId, rank: 1 });
    expect(rank1.lines).toEqual(expected(0, 1500, (l) => l.rank === 1));
    const launcher = await readAll(nc, { jobId, rank: 'launcher' });
    expect(launcher.lines).toHaveLength(150);

    const tail = await readAll(nc, { jobId, tail: 25 });
    expect(tail.lines).toEqual(expected(1475, 1500));
    const rank0Tail = await readAll(nc, { jobId, tail: 3, rank: 0 });
    expect(rank0Tail.lines).toEqual(expected(1494, 1500, (l) => l.rank === 0));
    expect(rank0Tail.lines).toHaveLength(3);
    expect((await read(nc, { jobId, tail: 0 })).lines).toEqual([]);

    // Lines committed after a read began are not part of it: a later page stops at the first reply's lastSeq.
    const page = await read(nc, { jobId, afterSeq: 1490 });
    await storeSegment(nc, jobId, { index: 1, firstSeq: 1000, lines: 520, final: true });
    const later = await read(nc, { jobId, afterSeq: 1495, untilSeq: page.lastSeq });
    expect(later.lines.map((l) => l.seq)).toEqual([1496, 1497, 1498, 1499]);
    expect(await read(nc, { jobId })).toMatchObject({ complete: true, lastSeq: 1519 });
  });

  it('keeps every page inside a NATS message when escapes make the text six times longer', async () => {
    const jobId = newJob('escapes');
    const colourful = (seq: number) => ({ rank: 0, text: `${'\u001b'.repeat(4000)} ${seq}` });
    await storeSegment(h.nats.nc, jobId, { index: 0, firstSeq: 0, lines: 400 }, colourful);
    const whole = await readAll(h.nats.nc, { jobId });
    expect(whole.lines).toEqual(Array.from({ length: 400 }, (_, seq) => formatLogLine(colourful(seq))));
    expect(whole.pages).toBeGreaterThan(1);
  });

  it('deletes segments that rotation dropped on the worker and marks where their lines were', async () => {
    const jobId = newJob('rotation');
    const nc = h.nats.nc;
    for (let index = 0; index < 4; index += 1) await storeSegment(nc, jobId, { index, firstSeq: index * 100, lines: 100, closed: true });
    // The worker rotated segments 1 and 2 away, then wrote segment 4.
    await storeSegment(nc, jobId, { index: 4, firstSeq: 400, lines: 50, droppedBefore: 3 });
    await storeSegment(nc, jobId, { index: 5, firstSeq: 450, lines: 10, droppedBefore: 3, final: true });

    const keys: string[] = [];
    for await (const entry of h.store.list(`logs/${jobId}/`)) keys.push(entry.key);
    expect(keys).toEqual([`logs/${jobId}/1/000000.log`, `logs/${jobId}/1/000003.log`, `logs/${jobId}/1/000004.log`, `logs/${jobId}/1/000005.log`]);

    const marker = `[hounsfield] … 200 lines dropped here by log rotation (an attempt's log keeps its first segment and its newest lines, HOUNSFIELD_LOG_MAX_MIB in all) …`;
    const whole = await readAll(nc, { jobId, maxBytes: 2048 });
    expect(whole.lines).toEqual([...expected(0, 100), marker, ...expected(300, 460)]);
    expect((await readAll(nc, { jobId, rank: 'launcher' })).lines).toEqual([...expected(0, 100, (l) => l.rank === 'launcher'), marker, ...expected(300, 460, (l) => l.rank === 'launcher')]);
  });

  it('keeps attempts apart, reads the latest by default, and refuses a commit of bytes it does not hold', async () => {
    const jobId = newJob('attempts');
    const nc = h.nats.nc;
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 30, final: true });
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 5, attempt: 2 });

    const latest = await read(nc, { jobId });
    expect(latest.attempt).toBe(2);
    expect(latest.lines).toHaveLength(5);
    expect(latest.attempts.map((a) => [a.attempt, a.lines, a.complete])).toEqual([
      [1, 30, true],
      [2, 5, false],
    ]);
    expect((await read(nc, { jobId, attempt: 1 })).lines).toHaveLength(30);
    expect(await read(nc, { jobId, attempt: 3 })).toMatchObject({ attempt: 3, lines: [], lastSeq: -1 });
    expect(await read(nc, { jobId: newJob('never') })).toMatchObject({ attempt: null, attempts: [], lines: [] });

    const refused = await commit(nc, jobId, { index: 7, firstSeq: 5, lines: 1, bytes: 10, attempt: 2 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RpcFailure);
    expect((refused as RpcFailure).error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/segment 7: the store holds nothing/) });
    const bad = await requestRpc(nc, SERVICE_RPCS.logsRead, { v: SCHEMA_VERSION, jobId, tail: 5, afterSeq: 3 }).catch((e: unknown) => e);
    expect((bad as RpcFailure).error.code).toBe('invalid_request');
  });
});

describe('attempt log retention', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('fs', { HOUNSFIELD_LOG_RETENTION_SECONDS: '2' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('deletes a job’s logs from the store and the index once its last commit is older than the retention', async () => {
    const jobId = newJob('retention');
    const nc = h.nats.nc;
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 10, final: true });
    await storeSegment(nc, jobId, { index: 0, firstSeq: 0, lines: 3, attempt: 2, final: true });
    const other = newJob('kept');
    const keys = async (job: string) => {
      const found: string[] = [];
      for await (const entry of h.store.list(`logs/${job}/`)) found.push(entry.key);
      return found;
    };
    expect(await keys(jobId)).toHaveLength(2);

    // Another job keeps writing: its logs stay while this job's expire.
    const deadline = Date.now() + 30_000;
    let otherLines = 0;
    while ((await keys(jobId)).length > 0 && Date.now() < deadline) {
      otherLines += 1;
      await storeSegment(nc, other, { index: 0, firstSeq: 0, lines: otherLines });
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await keys(jobId)).toEqual([]);
    expect(await read(nc, { jobId })).toMatchObject({ attempt: null, attempts: [] });
    expect(await eventually(() => keys(other), (k) => k.length === 1)).toEqual([`logs/${other}/1/000000.log`]);
    expect((await read(nc, { jobId: other })).lines).toHaveLength(otherLines);
  });
});
