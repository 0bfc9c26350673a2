import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HounsfieldApiError, HounsfieldClient } from '@hounsfield/client';
import { checkpointImportSchema, EvaluationRecord, evaluationRecordSchema, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack, ServerHandle, startS3Server } from '@hounsfield/testing';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { python, REPO_ROOT, run } from './checkpoints-fixture';
import { FAST_ENV, Fixture, fixtureOf, withRegisteredWorker } from './stack-fixture';

/** A job that waits for 8 GPUs no worker has: it stays queued, to be read and cancelled. */
const waiting = (name: string): TrainingJobSpecInput => ({
  name,
  kind: 'script',
  script: { module: 'hounsfield.examples.count' },
  resources: { gpus: 8, waitForCapacity: true },
  hyperparameters: { globalBatch: 8, baseLr: 1e-3 },
});

/** Anything that would hand out storage or the bus: a presigned URL, a service address, a NATS URL. */
const SECRET_LIKE = /https?:\/\/|nats:\/\/|X-Amz-|Signature=/;

async function status(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof HounsfieldApiError) return error.status;
    throw error;
  }
}

describe('tokens, roles and ownership on the stack (s3 store)', () => {
  let fixture: Fixture;
  let s3: ServerHandle;
  let admin: HounsfieldClient;
  let alice: HounsfieldClient;
  let bob: HounsfieldClient;
  let vera: HounsfieldClient;
  const as = (token: string) => new HounsfieldClient({ baseUrl: fixture.stack.gatewayUrl, token });
  const raw = (path: string, init: RequestInit = {}) => fetch(`${fixture.stack.gatewayUrl}${path}`, init);

  beforeAll(async () => {
    s3 = await startS3Server();
    const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-auth-'));
    const stack = await LocalStack.start({
      dataDir,
      env: {
        ...FAST_ENV,
        HOUNSFIELD_STORAGE_DRIVER: 's3',
        HOUNSFIELD_S3_ENDPOINT: s3.url,
        HOUNSFIELD_S3_BUCKET: 'auth-e2e',
        HOUNSFIELD_S3_ACCESS_KEY: 'test',
        HOUNSFIELD_S3_SECRET_KEY: 'test',
      },
    });
    fixture = await withRegisteredWorker(fixtureOf(stack, dataDir), { workerId: 'auth-node' });
    admin = fixture.client;
    for (const [name, role] of [['alice', 'user'], ['bob', 'user'], ['vera', 'viewer']] as const) await admin.createUser(name, role);
    alice = as((await admin.createToken({ name: 'laptop', user: 'alice' })).token);
    bob = as((await admin.createToken({ name: 'laptop', user: 'bob' })).token);
    vera = as((await admin.createToken({ name: 'dashboard', user: 'vera' })).token);
  });
  afterAll(async () => {
    await fixture?.cleanup();
    await s3?.stop();
  });

  it('tokens are shown once, stored as digests, and say who they are', async () => {
    expect(await bob.whoami()).toMatchObject({ user: 'bob', role: 'user' });
    const listed = await admin.listTokens('bob');
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toMatch(/hft_/);
    const stored = await Promise.all(
      (await readdir(join(fixture.dataDir, 'redis'), { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) => readFile(join(entry.parentPath, entry.name), 'latin1')),
    );
    expect(stored.join('')).toContain('tok_');
    expect(stored.join('')).not.toMatch(/hft_/);
  });

  it('answers 401 problem+json without a token, with a wrong one, and with a malformed header', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer hft_not-a-token-at-all-but-long-enough' }, { authorization: 'Basic abc' }]) {
      const response = await raw('/v1/jobs', { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await raw('/healthz')).status).toBe(200);
  });

  it('a viewer reads everything but cannot submit or cancel (403)', async () => {
    const job = await bob.submitJob(waiting('bob-waits'));
    expect(await status(vera.submitJob(waiting('vera-tries')))).toBe(403);
    expect(await status(vera.cancelJob(job.id))).toBe(403);
    expect((await vera.getJob(job.id)).owner).toBe('bob');
    expect(await status(vera.createUser('mallory', 'admin'))).toBe(403);
    await bob.cancelJob(job.id, 0);
  });

  it('user A cannot read, cancel or follow user B\'s job (403), and lists only its own', async () => {
    const job = await bob.submitJob(waiting('bob-private'));
    const mine = await alice.submitJob(waiting('alice-own'));
    expect(job.owner).toBe('bob');
    expect(await status(alice.getJob(job.id))).toBe(403);
    expect(await status(alice.cancelJob(job.id))).toBe(403);
    expect(await status(alice.jobMetrics(job.id))).toBe(403);
    const events = await raw(`/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${(await admin.createToken({ name: 'a2', user: 'alice' })).token}` } });
    expect(events.status).toBe(403);
    const listed = (await alice.listJobsPage({ limit: 1000 })).jobs.map((j) => j.id);
    expect(listed).toContain(mine.id);
    expect(listed).not.toContain(job.id);
    expect(await status(alice.listJobsPage({ owner: 'bob' }))).toBe(403);
    // The queue shows everyone's waiting jobs to every role, without their specs.
    const queue = await (await raw('/v1/queue?limit=1000', { headers: { authorization: `Bearer ${(await admin.createToken({ name: 'a4', user: 'alice' })).token}` } })).json() as { jobs: Record<string, unknown>[] };
    const entry = queue.jobs.find((j) => j.id === job.id);
    expect(entry).toMatchObject({ owner: 'bob', state: 'queued', kind: 'script', resources: { gpus: 8 } });
    expect(entry).not.toHaveProperty('spec');
    expect((await admin.listJobsPage({ owner: 'bob', limit: 1000 })).jobs.map((j) => j.id)).toContain(job.id);
    expect((await bob.cancelJob(job.id, 0)).id).toBe(job.id);
    await alice.cancelJob(mine.id, 0);
  });

  it('pages job lists with cursors', async () => {
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await bob.submitJob(waiting(`page-${i}`))).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await bob.listJobsPage({ limit: 2, cursor });
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
    for (const id of ids) await bob.cancelJob(id, 0);
  });

  it('an event stream takes a short-lived ticket bound to its path', async () => {
    const job = await bob.submitJob(waiting('bob-streams'));
    const path = `/v1/jobs/${job.id}/events`;
    const ticket = await (
      await raw('/v1/stream-tickets', { method: 'POST', headers: { authorization: `Bearer ${(await admin.createToken({ name: 'b2', user: 'bob' })).token}`, 'content-type': 'application/json' }, body: JSON.stringify({ path }) })
    ).json() as { ticket: string };
    const controller = new AbortController();
    const streamed = await raw(`${path}?ticket=${ticket.ticket}`, { signal: controller.signal });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    controller.abort();
    expect((await raw(`/v1/jobs/${job.id}?ticket=${ticket.ticket}`)).status).toBe(401); // not a stream
    const other = await bob.submitJob(waiting('bob-other'));
    expect((await raw(`/v1/jobs/${other.id}/events?ticket=${ticket.ticket}`)).status).toBe(401); // another path
    await bob.cancelJob(job.id, 0);
    await bob.cancelJob(other.id, 0);
  });

  it('a revoked token stops working at once, an expired one too, a disabled user\'s as well', async () => {
    const created = await admin.createToken({ name: 'short', user: 'alice' });
    const short = as(created.token);
    expect((await short.whoami()).user).toBe('alice');
    await alice.revokeToken(created.id);
    expect(await status(short.whoami())).toBe(401);

    const expiring = as((await alice.createToken({ name: 'two-seconds', expiresInSeconds: 2 })).token);
    expect((await expiring.whoami()).user).toBe('alice');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await status(expiring.whoami())).toBe(401);

    const temp = await admin.createUser('temp', 'user');
    const tempClient = as((await admin.createToken({ name: 't', user: temp.name })).token);
    expect((await tempClient.whoami()).user).toBe('temp');
    await admin.updateUser('temp', { disabled: true });
    expect(await status(tempClient.whoami())).toBe(401);
    // Users revoke only their own tokens; admins any.
    const bobs = await admin.listTokens('bob');
    expect(await status(alice.revokeToken(bobs[0].id))).toBe(404);
  });

  describe('a checkpoint import and an evaluation of user B', () => {
    let importJob: JobRecord;
    let evaluation: EvaluationRecord;
    const bodies: string[] = [];

    beforeAll(async () => {
      await run(python(), ['-c', 'import sys, torch; torch.save({"w": torch.ones(3)}, sys.argv[1])', join(fixture.dataDir, 'tiny.pth')], { cwd: REPO_ROOT });
      const bobToken = (await admin.createToken({ name: 'b3', user: 'bob' })).token;
      const posted = await raw('/v1/checkpoints/import?fileName=tiny.pth', {
        method: 'POST',
        headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/octet-stream' },
        body: await readFile(join(fixture.dataDir, 'tiny.pth')),
      });
      const accepted = await posted.text();
      expect(posted.status).toBe(202);
      bodies.push(accepted);
      importJob = await bob.waitForState(checkpointImportSchema.parse(JSON.parse(accepted)).jobId, ['succeeded', 'failed'], 120_000);
      expect(importJob.state).toBe('succeeded');
      const created = await raw('/v1/evaluations', {
        method: 'POST',
        headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          checkpoints: { diffusion: { job: importJob.id, config: {} }, voxelization: { job: importJob.id, config: {} } },
          dataset: { root: 'no-such-dataset' },
          device: 'cpu',
          maxShardRestarts: 0,
        }),
      });
      const createdBody = await created.text();
      expect(created.status).toBe(201);
      evaluation = evaluationRecordSchema.parse(JSON.parse(createdBody));
      bodies.push(createdBody);
    });

    it('records the owner on the import job, its checkpoint, the evaluation and its shard jobs', async () => {
      expect(importJob).toMatchObject({ owner: 'bob', spec: { kind: 'checkpoint_import' } });
      const [checkpoint] = (await (await raw(`/v1/checkpoints?job=${importJob.id}`, { headers: { authorization: `Bearer ${fixture.stack.adminToken}` } })).json() as { checkpoints: { owner: string }[] }).checkpoints;
      expect(checkpoint.owner).toBe('bob');
      expect(evaluation.owner).toBe('bob');
      const shard = await admin.getJob(evaluation.shardJobs[0]);
      expect(shard).toMatchObject({ owner: 'bob', spec: { kind: 'evaluation_shard', evaluationShard: { evaluationId: evaluation.id, shard: 0 } } });
      expect(shard.spec).not.toHaveProperty('hyperparameters');
    });

    it('user A cannot read or download user B\'s checkpoint or evaluation, nor evaluate B\'s jobs (403)', async () => {
      const token = (await admin.createToken({ name: 'a3', user: 'alice' })).token;
      const get = (path: string) => raw(path, { headers: { authorization: `Bearer ${token}` } });
      for (const path of [
        `/v1/checkpoints?job=${importJob.id}`,
        `/v1/checkpoints/${importJob.id}:latest`,
        `/v1/checkpoints/${importJob.id}:latest/download`,
        `/v1/checkpoints/${importJob.id}:latest/files/meta.json`,
        `/v1/evaluations/${evaluation.id}`,
        `/v1/evaluations/${evaluation.id}/reports/csv`,
        `/v1/evaluations/${evaluation.id}/cases/c1/preview.png`,
        `/v1/evaluations?owner=bob`,
        `/v1/jobs/${evaluation.shardJobs[0]}`,
      ]) {
        const response = await get(path);
        expect({ path, status: response.status }).toEqual({ path, status: 403 });
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
      const steal = await raw('/v1/evaluations', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ checkpoints: { diffusion: { job: importJob.id, config: {} }, voxelization: { job: importJob.id, config: {} } }, dataset: { root: 'x' } }),
      });
      expect(steal.status).toBe(403);
      // A's list of evaluations holds none of B's; B's holds B's.
      const listed = (await (await get('/v1/evaluations')).json()) as { evaluations: { id: string }[] };
      expect(listed.evaluations.map((e) => e.id)).not.toContain(evaluation.id);
      const bobToken = (await admin.createToken({ name: 'b5', user: 'bob' })).token;
      const own = (await (await raw('/v1/evaluations', { headers: { authorization: `Bearer ${bobToken}` } })).json()) as { evaluations: { id: string; owner?: string }[] };
      expect(own.evaluations.find((e) => e.id === evaluation.id)?.owner).toBe('bob');
    });

    it('no record any route returns holds a presigned URL, a service address or a NATS URL', async () => {
      const token = `Bearer ${(await admin.createToken({ name: 'b4', user: 'bob' })).token}`;
      const finished = await bob.waitForState(evaluation.shardJobs[0], ['failed', 'succeeded', 'cancelled'], 120_000);
      for (const path of [
        `/v1/jobs/${importJob.id}`,
        `/v1/jobs?limit=1000`,
        `/v1/checkpoints?job=${importJob.id}`,
        `/v1/checkpoints/${importJob.id}:latest`,
        `/v1/evaluations/${evaluation.id}`,
        `/v1/jobs/${finished.id}`,
      ]) {
        const response = await raw(path, { headers: { authorization: token } });
        expect(response.status).toBe(200);
        bodies.push(await response.text());
      }
      for (const body of bodies) expect(body).not.toMatch(SECRET_LIKE);
    });
  });
});
