import { describe, expect, it } from '@jest/globals';
import { CheckpointRecord, JobRecord, JobSpec, jobSpecSchema, RPC } from '@hounsfield/contracts';
import { NatsClient } from '@hounsfield/messaging';
import { ResumePointService } from './resume-point.service';

const checkpoint = (jobId: string, step: number): CheckpointRecord => ({
  id: 'ck-0123456789abcdef01234567',
  jobId,
  attempt: 1,
  step,
  committedAt: '2026-01-01T00:00:00.000Z',
  totalSize: 10,
  files: [{ name: 'meta.json', size: 10, sha256: 'a'.repeat(64), parts: [{ size: 10 }] }],
  meta: { format: 'hounsfield.checkpoint', formatVersion: 1, step, worldSize: 2, metrics: {}, stateFiles: {}, createdAt: '2026-01-01T00:00:00.000Z' },
});

function job(attempt: number, resumeFrom?: string): JobRecord {
  const spec: JobSpec = jobSpecSchema.parse({
    name: 't',
    kind: 'script',
    script: { module: 'm' },
    hyperparameters: { globalBatch: 8, baseLr: 0.1 },
    checkpoint: { keepLast: 3, ...(resumeFrom ? { resumeFrom } : {}) },
  });
  return { id: 'job-1', spec, state: 'queued', attempt, restarts: 0, createdAt: 'x', updatedAt: 'x', history: [] };
}

/** A NATS connection whose checkpoints service answers `reply` (or is absent). */
function service(reply: ((request: { ref: string; jobId?: string }) => unknown) | 'absent') {
  const requests: { subject: string; body: { ref: string; jobId?: string } }[] = [];
  const nc = {
    request: async (subject: string, data: Uint8Array) => {
      const body = JSON.parse(new TextDecoder().decode(data));
      requests.push({ subject, body });
      if (reply === 'absent') throw new Error('503 no responders');
      return { data: new TextEncoder().encode(JSON.stringify(reply(body))) };
    },
  };
  return { resumePoints: new ResumePointService({ nc } as unknown as NatsClient), requests };
}

describe('ResumePointService', () => {
  it('starts a first attempt fresh without asking when the spec names no checkpoint', async () => {
    const { resumePoints, requests } = service(() => ({ ok: true, data: checkpoint('job-1', 5) }));
    expect(await resumePoints.resumePoint(job(1))).toEqual({ kind: 'fresh' });
    expect(requests).toEqual([]);
  });

  it('resumes a restart from the job’s latest committed checkpoint', async () => {
    const { resumePoints, requests } = service(() => ({ ok: true, data: checkpoint('job-1', 40) }));
    const point = await resumePoints.resumePoint(job(2));
    expect(point.kind === 'resume' && point.checkpoint.step).toBe(40);
    expect(requests[0]).toMatchObject({ subject: RPC.checkpointsResolve, body: { jobId: 'job-1', ref: 'latest' } });
  });

  it('falls back to the spec’s checkpoint when the job has none of its own yet', async () => {
    const { resumePoints } = service((r) =>
      r.ref === 'latest' ? { ok: false, error: { code: 'not_found', message: 'none' } } : { ok: true, data: checkpoint('other', 7) },
    );
    const point = await resumePoints.resumePoint(job(2, 'other:best:loss:min'));
    expect(point.kind === 'resume' && point.checkpoint.jobId).toBe('other');
  });

  it('restarts fresh when the checkpoints service is not there, and says so', async () => {
    const { resumePoints } = service('absent');
    expect(await resumePoints.resumePoint(job(3))).toMatchObject({ kind: 'fresh', note: expect.stringContaining('did not answer') });
  });

  it('waits while a named checkpoint cannot be looked up, and fails the job when it does not exist', async () => {
    expect((await service('absent').resumePoints.resumePoint(job(1, 'other:latest'))).kind).toBe('wait');
    const missing = service(() => ({ ok: false, error: { code: 'not_found', message: 'no committed checkpoint of job other matches latest' } }));
    expect(await missing.resumePoints.resumePoint(job(1, 'other:latest'))).toEqual({
      kind: 'fail',
      reason: 'spec.checkpoint.resumeFrom other:latest cannot be used: no committed checkpoint of job other matches latest',
    });
  });
});
