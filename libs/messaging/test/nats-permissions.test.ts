import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONSUMERS, RPC, STREAMS, SUBJECTS, WORKER_RPC, workerCancelSubject, workerRpcSubject } from '@hounsfield/contracts';
import { ServerHandle, StackCredentials, startNatsServer } from '@hounsfield/testing';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ensureWorkerConsumer, inboxPrefixOf, NatsClient, requestRpc, serveRpc, serveWorkerRpc, workerUser } from '../src';

/** Connects as one of the stack's users (the server's config holds their permissions). */
async function connectAs(url: string, env: NodeJS.ProcessEnv): Promise<NatsConnection> {
  const user = env.HOUNSFIELD_NATS_USER as string;
  return connect({ servers: url, user, pass: env.HOUNSFIELD_NATS_PASSWORD, inboxPrefix: inboxPrefixOf(user), name: user });
}

/**
 * Publishes, then waits for the server's verdict on that subject: the permission error it reports,
 * or none. The server answers a denied publish with an asynchronous -ERR naming the subject, so a
 * denial is awaited (up to 10 s on a loaded machine) and an allowed publish is judged after a
 * round trip plus a grace period; errors about other subjects (a late verdict of an earlier
 * publish) are never attributed to this one.
 */
async function publishVerdict(nc: NatsConnection, subject: string, outcome: 'denied' | 'allowed'): Promise<string | undefined> {
  const errors: string[] = [];
  const watching = (async () => {
    for await (const status of nc.status()) if (status.type === 'error') errors.push(String(status.error));
  })();
  const verdict = () => errors.find((e) => e.toLowerCase().includes('permission') && e.includes(`"${subject}"`));
  nc.publish(subject, 'x');
  await nc.flush();
  const deadline = Date.now() + (outcome === 'denied' ? 10_000 : 300);
  while (!verdict() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  void watching;
  return verdict();
}

describe('NATS permissions: each worker only its own subjects', () => {
  let dir: string;
  let nats: ServerHandle;
  let credentials: StackCredentials;
  let scheduler: NatsClient;
  let checkpoints: NatsClient;
  let workerA: NatsConnection;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hf-nats-auth-'));
    credentials = StackCredentials.open(dir);
    credentials.workerEnv('node-a');
    credentials.workerEnv('node-b');
    nats = await startNatsServer({ configFile: credentials.writeNatsConfig() });
    const service = (name: 'scheduler' | 'checkpoints') => {
      const env = credentials.serviceEnv(name);
      return NatsClient.connect({ url: nats.url, name, user: env.HOUNSFIELD_NATS_USER, password: env.HOUNSFIELD_NATS_PASSWORD });
    };
    scheduler = await service('scheduler');
    checkpoints = await service('checkpoints');
    await ensureWorkerConsumer(scheduler.jsm, 'node-a');
    await ensureWorkerConsumer(scheduler.jsm, 'node-b');
    workerA = await connectAs(nats.url, credentials.workerEnv('node-a'));
  });
  afterAll(async () => {
    await workerA?.close();
    await scheduler?.close();
    await checkpoints?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses connections without the credentials', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: nats.url, user: workerUser('node-a'), pass: 'wrong', reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it.each([
    ['another worker\'s heartbeat', SUBJECTS.workerHeartbeat('node-b')],
    ['another worker\'s calls', workerRpcSubject('node-b', WORKER_RPC.checkpointsResolve)],
    ['an assignment', SUBJECTS.assign('node-a')],
    ['another worker\'s assignment consumer', `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.assign}.${CONSUMERS.worker('node-b')}`],
    ['a service RPC (submit a job)', RPC.submitJob],
    ['a service RPC (checkpoint list)', RPC.checkpointsList],
    ['the JetStream API', `$JS.API.STREAM.DELETE.${STREAMS.events}`],
    ['another worker\'s cancel subject', workerCancelSubject('node-b')],
    ['a job state (scheduler-only)', SUBJECTS.jobState('j1')],
  ])('a worker cannot publish to %s', async (_what, subject) => {
    expect(await publishVerdict(workerA, subject, 'denied')).toMatch(/permissions violation for publish/i);
  });

  it.each([
    ['every inbox', '_INBOX.>'],
    ['another worker\'s cancel requests', workerCancelSubject('node-b')],
    ['service RPCs', 'hf.rpc.>'],
    ['the assignment subjects', 'hf.assign.>'],
  ])('a worker cannot subscribe to %s', async (_what, subject) => {
    const sub = workerA.subscribe(subject);
    await expect(sub.closed).resolves.toMatchObject({ message: expect.stringMatching(/permissions violation for subscription/i) });
  });

  it('a worker publishes its own heartbeat and job events, pulls its own assignments and calls services on its own subjects', async () => {
    expect(await publishVerdict(workerA, SUBJECTS.workerHeartbeat('node-a'), 'allowed')).toBeUndefined();
    expect(await publishVerdict(workerA, SUBJECTS.jobProgress('j1'), 'allowed')).toBeUndefined();
    expect(await publishVerdict(workerA, SUBJECTS.jobNotice('j1'), 'allowed')).toBeUndefined();
    // Any worker may run an evaluation shard: the case queues' consumers are open to all of them.
    expect(await publishVerdict(workerA, `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.eval}.${CONSUMERS.evaluation('ev-1')}`, 'allowed')).toBeUndefined();
    expect(await publishVerdict(workerA, `$JS.ACK.${STREAMS.eval}.${CONSUMERS.evaluation('ev-1')}.1.2.3.4.5`, 'allowed')).toBeUndefined();
    const served = serveWorkerRpc(checkpoints.nc, WORKER_RPC.checkpointsResolve, 'checkpoints', z.object({ ref: z.string() }), async (req, workerId) => ({ ref: req.ref, workerId }));
    await checkpoints.nc.flush();
    try {
      const reply = await requestRpc(workerA, workerRpcSubject('node-a', WORKER_RPC.checkpointsResolve), { ref: 'x' }, z.object({ ref: z.string(), workerId: z.string() }));
      expect(reply).toEqual({ ref: 'x', workerId: 'node-a' });
    } finally {
      served.unsubscribe();
    }
    const next = await workerA.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.assign}.${CONSUMERS.worker('node-a')}`, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 5000 });
    expect(next.headers?.code).toBe(404); // allowed; the queue is just empty
  });

  it('services keep working: RPCs between them and replies to a worker', async () => {
    const served = serveRpc(scheduler.nc, RPC.getJob, 'scheduler', z.object({ id: z.string() }), async (req) => ({ id: req.id }));
    await scheduler.nc.flush();
    try {
      await expect(requestRpc(checkpoints.nc, RPC.getJob, { id: 'j1' }, z.object({ id: z.string() }))).resolves.toEqual({ id: 'j1' });
    } finally {
      served.unsubscribe();
    }
    // A service cannot call what it is not listed for (the checkpoints service never cancels jobs).
    expect(await publishVerdict(checkpoints.nc, RPC.cancelJob, 'denied')).toMatch(/permissions violation for publish/i);
  });
});
