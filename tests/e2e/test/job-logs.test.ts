import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatLogLine, TrainingJobSpecInput, LogLineEvent } from '@hounsfield/contracts';
import { LogFollowEvent, LogQuery } from '@hounsfield/client';
import { startCheckpointStack } from './checkpoints-fixture';
import { Fixture } from './stack-fixture';

const TICKS = 40;

/** hounsfield.examples.log_ticks on 2 CPU processes (gloo): start-up lines, then `tick <i> at <unix ms>` every 0.25 s per rank. */
const ticks: TrainingJobSpecInput = {
  name: 'log-ticks',
  kind: 'script',
  script: { module: 'hounsfield.examples.log_ticks', args: ['--ticks', String(TICKS), '--interval', '0.25'] },
  resources: { gpus: 0, cpuProcesses: 2 },
  hyperparameters: { globalBatch: 2, baseLr: 0.01, seed: 0 },
};

const TICK = /^tick (\d+) at (\d+)$/;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describe('job logs: all ranks of a DDP job, stored and followed live', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startCheckpointStack('logs-node');
  });
  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('follows both ranks live, each line once, within 2 s of being printed, then serves the stored log by attempt, rank and tail', async () => {
    const job = await fixture.client.submitJob(ticks);
    await fixture.client.waitForState(job.id, ['running', 'succeeded', 'failed'], 120_000);

    const followedAt = Date.now();
    const collect = async (query: LogQuery) => {
      const events: (LogFollowEvent & { receivedAt: number })[] = [];
      for await (const event of fixture.client.followJobLogs(job.id, query)) events.push({ ...event, receivedAt: Date.now() });
      return events;
    };
    // A second follower joins once part of the log is stored: stored lines, then live ones, for rank 0 only.
    const lateFollower = (async () => {
      while ((await fixture.client.jobLogs(job.id)).split('\n').length < 12) await new Promise((r) => setTimeout(r, 250));
      return collect({ rank: 0 });
    })();
    const [events, late] = await Promise.all([collect({}), lateFollower]);

    const finished = await fixture.client.getJob(job.id);
    expect(finished.state).toBe('succeeded');
    const end = events.at(-1);
    expect(end).toMatchObject({ event: 'end', attempt: 1 });
    const lines = events.filter((e) => e.event === 'line');
    // Stored text, then the live stream from where it ended: no gaps, no line twice.
    const seqs = lines.map((l) => l.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
    for (const rank of [0, 1]) {
      const rankTicks = lines.filter((l) => l.rank === rank && TICK.test(l.text)).map((l) => Number(TICK.exec(l.text)?.[1]));
      expect(rankTicks).toEqual(Array.from({ length: TICKS }, (_, i) => i));
    }
    // Lines printed after the follow began arrived live: the delay from the trainer's timestamp to here.
    const delays = lines
      .map((l) => ({ printedAt: Number(TICK.exec(l.text)?.[2] ?? NaN), receivedAt: l.receivedAt }))
      .filter((l) => l.printedAt > followedAt + 1000)
      .map((l) => l.receivedAt - l.printedAt);
    expect(delays.length).toBeGreaterThanOrEqual(10);
    expect(median(delays)).toBeLessThanOrEqual(2000);

    // The stored log: both ranks, each line prefixed with its rank.
    const url = `/v1/jobs/${job.id}/logs`;
    const whole = await fixture.api(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(whole.headers.get('x-log-attempt')).toBe('1');
    expect(whole.headers.get('x-log-complete')).toBe('true');
    const text = (await whole.text()).split('\n').slice(0, -1);
    expect(text).toHaveLength(lines.length);
    for (const rank of [0, 1]) {
      expect(text).toContain(`[rank ${rank}] rank ${rank} of 2 started; all-reduce sum 3`);
      expect(text).toContain(`[rank ${rank}] rank ${rank} writes this line in two pieces`);
      expect(text).toContain(`[rank ${rank}] rank ${rank} says hello on stderr`);
      expect(text).toContain(`[rank ${rank}] rank ${rank} done`);
    }
    expect(text.every((line) => /^\[(rank [01]|launcher)\] /.test(line))).toBe(true);

    const rank1 = (await fixture.client.jobLogs(job.id, { rank: 1 })).split('\n').slice(0, -1);
    expect(rank1).toEqual(text.filter((line) => line.startsWith('[rank 1] ')));
    expect((await fixture.client.jobLogs(job.id, { tail: 3 })).split('\n').slice(0, -1)).toEqual(text.slice(-3));
    expect((await fixture.client.jobLogs(job.id, { attempt: 1, rank: 0, tail: 2 })).split('\n').slice(0, -1)).toEqual(
      text.filter((line) => line.startsWith('[rank 0] ')).slice(-2),
    );
    // The late follower got every rank-0 line once, across the switch from stored to live lines.
    expect(late.at(-1)).toMatchObject({ event: 'end' });
    expect(late.filter((e) => e.event === 'line').map((e) => formatLogLine(e as LogLineEvent))).toEqual(text.filter((l) => l.startsWith('[rank 0] ')));

    // A finished attempt's log followed again: the stored lines, then the end; Last-Event-ID resumes after a line.
    const again: LogFollowEvent[] = [];
    for await (const event of fixture.client.followJobLogs(job.id, { attempt: 1, tail: 5 })) again.push(event);
    expect(again.map((e) => e.event)).toEqual(['line', 'line', 'line', 'line', 'line', 'end']);
    const resumed = await fixture.api(`${url}?follow=true`, { headers: { 'last-event-id': `1:${lines.length - 3}` } });
    const frames = (await resumed.text()).split('\n\n').filter((f) => f.includes('data:'));
    expect(frames.map((f) => /^id: (.*)$/m.exec(f)?.[1] ?? /^event: (.*)$/m.exec(f)?.[1])).toEqual([`1:${lines.length - 2}`, `1:${lines.length - 1}`, 'end']);
  });

  it('answers an unknown job with 404 and bad parameters with 400, as problem+json', async () => {
    const problem = async (path: string) => {
      const response = await fixture.api(path);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      return { status: response.status, body: (await response.json()) as { detail: string; errors?: { path: string }[] } };
    };
    expect((await problem('/v1/jobs/no-such-job/logs')).status).toBe(404);

    const job = await fixture.client.submitJob({ ...ticks, name: 'log-params', script: { module: 'hounsfield.examples.count', args: ['--steps', '1'] } });
    for (const [query, field] of [
      ['rank=abc', 'rank'],
      ['tail=-1', 'tail'],
      ['attempt=0', 'attempt'],
      ['follow=maybe', 'follow'],
      ['lines=3', '(root)'],
    ]) {
      const { status, body } = await problem(`/v1/jobs/${job.id}/logs?${query}`);
      expect(status).toBe(400);
      expect(body.errors?.map((e) => e.path)).toContain(field);
    }
    const tooFar = await problem(`/v1/jobs/${job.id}/logs?attempt=2`);
    expect(tooFar.status).toBe(404);
    expect(tooFar.body.detail).toMatch(/has no attempt 2/);
    await fixture.client.waitForState(job.id, ['succeeded', 'failed'], 120_000);
  });
});
