import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobNoticeEvent, jobRecordSchema, jobSpecSchema, RPC, SUBJECTS } from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import { randomBytes } from 'node:crypto';
import { Harness, startHarness } from './service-harness';

/**
 * Fencing: once the scheduler has moved a job to a newer attempt (its old worker was cut off past
 * the reconnect window), a checkpoint the old attempt still uploads is refused. The scheduler is
 * played by a responder on its getJob RPC that says which attempt is current.
 */
/** A job record as the scheduler's getJob answers it: running its `attempt`. */
function runningJob(id: string, attempt: number) {
  const at = new Date().toISOString();
  const spec = jobSpecSchema.parse({ name: id, kind: 'script', script: { module: 'train' }, hyperparameters: { globalBatch: 8, baseLr: 1e-3 } });
  return jobRecordSchema.parse({ id, spec, state: 'running', attempt, restarts: 0, createdAt: at, updatedAt: at, workerId: 'w1', history: [] });
}

describe('commits from a superseded attempt', () => {
  let h: Harness;
  const current = new Map<string, number>();

  beforeAll(async () => {
    h = await startHarness('fs');
    h.nats.nc.subscribe(RPC.getJob, {
      callback: (_error, message) => {
        const { id } = message.json<{ id: string }>();
        const attempt = current.get(id);
        const reply = attempt === undefined ? { ok: false, error: { code: 'not_found', message: `no job ${id}` } } : { ok: true, data: runningJob(id, attempt) };
        message.respond(JSON.stringify(reply));
      },
    });
    await h.nats.nc.flush();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('are refused, noticed on the job, and the latest stays the current attempt', async () => {
    const jobId = `fenced-${Date.now().toString(36)}`;
    current.set(jobId, 1);
    await h.client.commit({ jobId, attempt: 1, step: 10, files: { 'model.safetensors': randomBytes(4096) } });
    // The worker of attempt 1 is lost; the scheduler requeues the job as attempt 2, which resumes and commits.
    current.set(jobId, 2);
    await h.client.commit({ jobId, attempt: 2, step: 20, files: { 'model.safetensors': randomBytes(4096) } });
    const notices: JobNoticeEvent[] = [];
    const sub = h.nats.nc.subscribe(SUBJECTS.jobNotice(jobId), { callback: (_e, m) => void notices.push(m.json<JobNoticeEvent>()) });

    // The cut-off trainer of attempt 1 carries on and reaches a later step than attempt 2.
    const late = await h.client.upload({ jobId, attempt: 1, step: 30, files: { 'model.safetensors': randomBytes(4096) } });
    const error = await late.commit().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RpcFailure);
    expect((error as RpcFailure).error.code).toBe('invalid_request');
    expect((error as RpcFailure).error.message).toContain("attempt 1 is no longer the job's current one (attempt 2 is");
    expect(await h.client.resolve('latest', jobId)).toMatchObject({ attempt: 2, step: 20 });
    expect((await h.client.list(jobId)).map((r) => [r.attempt, r.step])).toEqual([
      [2, 20],
      [1, 10],
    ]);
    await h.nats.nc.flush();
    for (let i = 0; i < 50 && notices.length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ jobId, attempt: 1, kind: 'checkpoint_refused', level: 'warning' });
  });

  it('are not fenced when the scheduler cannot say (a restart must not lose checkpoints)', async () => {
    const jobId = `unknown-${Date.now().toString(36)}`;
    const record = await h.client.commit({ jobId, attempt: 1, step: 5, files: { 'model.safetensors': randomBytes(1024) } });
    expect(record).toMatchObject({ attempt: 1, step: 5 });
  });
});
