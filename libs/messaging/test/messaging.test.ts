import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AckPolicy, jetstreamManager, JsMsg } from '@nats-io/jetstream';
import { Logger } from '@nestjs/common';
import { RpcEntry, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { ServerHandle, startNatsServer } from '@hounsfield/testing';
import { z } from 'zod';
import {
  BatchConsumer,
  DurableConsumer,
  encodeJson,
  ensureConsumer,
  eventsConsumerConfig,
  NatsClient,
  publishValidated,
  requestRpc,
  RpcFailure,
  serveRpc,
  STREAM_CONFIGS,
  streamConfigs,
} from '../src';

/**
 * The consumer's state once the server has processed the acks sent so far: acks travel without a
 * reply and the server applies them on its own queue, so a loaded machine may still count one.
 */
async function settledConsumer(client: NatsClient, durable: string) {
  const deadline = Date.now() + 5_000;
  let info = await client.jsm.consumers.info(STREAMS.events, durable);
  while ((info.num_ack_pending > 0 || info.num_pending > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    info = await client.jsm.consumers.info(STREAMS.events, durable);
  }
  return info;
}

const pingSchema = z.object({ v: z.literal(1), n: z.number().int() }).strict();

describe('messaging against a real nats-server', () => {
  let nats: ServerHandle;
  let client: NatsClient;

  beforeAll(async () => {
    nats = await startNatsServer();
    client = await NatsClient.connect({ url: nats.url, name: 'messaging-test' });
  });
  afterAll(async () => {
    await client.close();
    await nats.stop();
  });

  it('provisions every stream with its retention in one place, idempotently', async () => {
    await NatsClient.connect({ url: nats.url, name: 'second' }).then((c) => c.close());
    const jsm = await jetstreamManager(client.nc);
    const assign = await jsm.streams.info(STREAMS.assign);
    const events = await jsm.streams.info(STREAMS.events);
    expect(assign.config.retention).toBe(STREAM_CONFIGS.assign.retention);
    expect(assign.config.retention).toBe('workqueue');
    expect(events.config.retention).toBe('limits');
  });

  it('asks NATS for the configured number of copies of every stream', async () => {
    const jsm = await jetstreamManager(client.nc);
    for (const name of Object.values(STREAMS)) expect((await jsm.streams.info(name)).config.num_replicas).toBe(1);
    expect(streamConfigs(3).map((c) => [c.name, c.num_replicas])).toEqual(Object.values(STREAMS).map((name) => [name, 3]));
    // A single server cannot keep 3 copies: it refuses the update, so the setting really reaches it.
    await expect(NatsClient.connect({ url: nats.url, name: 'three-copies', streamReplicas: 3, connectTimeoutMs: 1500 })).rejects.toThrow(/replicas/i);
  });

  it('de-duplicates a re-publish with the same message id', async () => {
    const subject = SUBJECTS.jobProgress('dedup-job');
    const first = await publishValidated(client.js, subject, pingSchema, { v: 1, n: 1 }, 'dedup-1');
    const again = await publishValidated(client.js, subject, pingSchema, { v: 1, n: 1 }, 'dedup-1');
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    expect(again.seq).toBe(first.seq);
  });

  it('refuses to publish a message that fails its own schema', async () => {
    await expect(
      publishValidated(client.js, SUBJECTS.jobProgress('x'), pingSchema, { v: 1, n: 1.5 } as never, 'bad'),
    ).rejects.toThrow(/n:/);
  });

  it('terminates malformed messages, logs them, and keeps consuming', async () => {
    const subject = SUBJECTS.jobStatus('consumer-job');
    await ensureConsumer(client.jsm, STREAMS.events, eventsConsumerConfig('test-consumer', [subject]));
    const seen: number[] = [];
    const rejected: string[] = [];
    const consumer = new DurableConsumer({
      js: client.js,
      stream: STREAMS.events,
      durable: 'test-consumer',
      schema: pingSchema,
      handle: async (m) => {
        seen.push(m.n);
      },
      onRejected: (_s, reason) => rejected.push(reason),
    });
    consumer.start();
    await client.js.publish(subject, new TextEncoder().encode('{not json'));
    await client.js.publish(subject, encodeJson({ v: 2, n: 1 }));
    await client.js.publish(subject, encodeJson({ v: 1, n: 'seven' }));
    await client.js.publish(subject, encodeJson({ v: 1, n: 7 }));
    const deadline = Date.now() + 10_000;
    while (seen.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(seen).toEqual([7]);
    expect(rejected).toHaveLength(3);
    expect(rejected[0]).toMatch(/JSON/);
    const info = await settledConsumer(client, 'test-consumer');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('stops a batch consumer stopped right after it started (before its subscription existed)', async () => {
    await ensureConsumer(client.jsm, STREAMS.events, { ...eventsConsumerConfig('batch-stop', [SUBJECTS.jobStatus('batch-stop')]), ack_policy: AckPolicy.All });
    const consumer = new BatchConsumer({
      js: client.js,
      stream: STREAMS.events,
      durable: 'batch-stop',
      batchSize: 10,
      handle: async (messages) => messages.map(() => ({ kind: 'ack' as const })),
      logger: new Logger('batch-stop'),
    });
    consumer.start();
    const stopped = await Promise.race([consumer.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still running after 5 s'), 5_000))]);
    expect(stopped).toBe('stopped');
  });

  it('handles a batch again after its handler failed, and loses none of it to the next batch\'s ack', async () => {
    const subject = SUBJECTS.jobStatus('batch-retry');
    await ensureConsumer(client.jsm, STREAMS.events, { ...eventsConsumerConfig('batch-retry', [subject]), ack_policy: AckPolicy.All });
    for (let n = 1; n <= 10; n += 1) await client.js.publish(subject, encodeJson({ v: 1, n }));
    const handled: number[] = [];
    let calls = 0;
    const consumer = new BatchConsumer({
      js: client.js,
      stream: STREAMS.events,
      durable: 'batch-retry',
      batchSize: 3,
      retryDelayMs: 100,
      handle: async (messages) => {
        calls += 1;
        if (calls === 1) throw new Error('redis is down');
        for (const m of messages) handled.push((JSON.parse(new TextDecoder().decode(m.data)) as { n: number }).n);
        return messages.map(() => ({ kind: 'ack' as const }));
      },
      logger: new Logger('batch-retry'),
    });
    consumer.start();
    const deadline = Date.now() + 15_000;
    while (handled.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    // Every message once, in stream order, the failed first batch included.
    expect(handled).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const info = await settledConsumer(client, 'batch-retry');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('prepares each batch once, before it is handled, while the previous one is still being handled', async () => {
    const subject = SUBJECTS.jobStatus('batch-prepare');
    await ensureConsumer(client.jsm, STREAMS.events, { ...eventsConsumerConfig('batch-prepare', [subject]), ack_policy: AckPolicy.All });
    for (let n = 1; n <= 12; n += 1) await client.js.publish(subject, encodeJson({ v: 1, n }));
    const log: string[] = [];
    let calls = 0;
    const numbers = (messages: JsMsg[]) => messages.map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { n: number }).n);
    const consumer = new BatchConsumer<number[]>({
      js: client.js,
      stream: STREAMS.events,
      durable: 'batch-prepare',
      batchSize: 4,
      retryDelayMs: 100,
      prepare: (messages) => {
        log.push(`prepare ${numbers(messages).join(',')}`);
        return numbers(messages);
      },
      handle: async (messages, prepared) => {
        calls += 1;
        log.push(`handle ${prepared.join(',')}`);
        expect(prepared).toEqual(numbers(messages));
        await new Promise((r) => setTimeout(r, 50)); // the store's round trip
        if (calls === 1) throw new Error('redis is down');
        log.push(`handled ${prepared.join(',')}`);
        return messages.map(() => ({ kind: 'ack' as const }));
      },
      logger: new Logger('batch-prepare'),
    });
    consumer.start();
    const deadline = Date.now() + 15_000;
    const handledAll = () => log.filter((l) => l.startsWith('handled ')).flatMap((l) => l.slice(8).split(',').map(Number));
    while (handledAll().length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    // Every message once, in stream order, the failed first batch included.
    expect(handledAll()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Each batch prepared once (the retry of the first reuses what was prepared), in order.
    const batches = (prefix: string) => log.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
    expect(batches('prepare ')).toEqual(batches('handled '));
    // The second batch was prepared while the first was still being handled.
    expect(log.indexOf(`prepare ${batches('handled ')[1]}`)).toBeLessThan(log.indexOf(`handled ${batches('handled ')[0]}`));
    const info = await settledConsumer(client, 'batch-prepare');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('redelivers a message whose handler failed unexpectedly', async () => {
    const subject = SUBJECTS.jobStatus('retry-job');
    await ensureConsumer(client.jsm, STREAMS.events, eventsConsumerConfig('retry-consumer', [subject]));
    let calls = 0;
    const consumer = new DurableConsumer({
      js: client.js,
      stream: STREAMS.events,
      durable: 'retry-consumer',
      schema: pingSchema,
      retryDelayMs: 100,
      handle: async () => {
        calls += 1;
        if (calls === 1) throw new Error('redis is down');
      },
    });
    consumer.start();
    await client.js.publish(subject, encodeJson({ v: 1, n: 1 }));
    const deadline = Date.now() + 10_000;
    while (calls < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(calls).toBe(2);
  });


  it('handles messages of different keys at once and keeps each key in order', async () => {
    const subject = SUBJECTS.jobStatus('concurrent-job');
    await ensureConsumer(client.jsm, STREAMS.events, eventsConsumerConfig('concurrent-consumer', [subject]));
    const keyed = z.object({ v: z.literal(1), key: z.string(), n: z.number().int() }).strict();
    const order = new Map<string, number[]>();
    let running = 0;
    let mostAtOnce = 0;
    const rejected: string[] = [];
    const consumer = new DurableConsumer({
      js: client.js,
      stream: STREAMS.events,
      durable: 'concurrent-consumer',
      schema: keyed,
      prefetch: 32,
      concurrency: 4,
      orderKey: (m) => m.key,
      onRejected: (_s, reason) => rejected.push(reason),
      handle: async (m) => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        // Earlier messages of a key take longer, so a key handled out of turn would show.
        await new Promise((r) => setTimeout(r, 40 - m.n * 3));
        order.set(m.key, [...(order.get(m.key) ?? []), m.n]);
        running -= 1;
      },
    });
    for (let n = 0; n < 8; n += 1) {
      for (const key of ['a', 'b', 'c', 'd']) await client.js.publish(subject, encodeJson({ v: 1, key, n }));
    }
    await client.js.publish(subject, encodeJson({ v: 1, key: 'a' }));
    consumer.start();
    const deadline = Date.now() + 15_000;
    const handled = () => [...order.values()].reduce((sum, list) => sum + list.length, 0);
    while ((handled() < 32 || rejected.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    for (const key of ['a', 'b', 'c', 'd']) expect(order.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);
    expect(rejected).toHaveLength(1);
    const info = await settledConsumer(client, 'concurrent-consumer');
    expect(info.num_ack_pending).toBe(0);
  });
  it('answers request/reply with validated envelopes and typed failures', async () => {
    const sub = serveRpc(client.nc, 'hf.rpc.test.double', 'test', pingSchema, async (req) => ({ doubled: req.n * 2 }));
    const reply = await requestRpc(client.nc, 'hf.rpc.test.double', { v: 1, n: 21 }, z.object({ doubled: z.number() }));
    expect(reply.doubled).toBe(42);
    await expect(
      requestRpc(client.nc, 'hf.rpc.test.double', { v: 1 }, z.object({ doubled: z.number() })),
    ).rejects.toMatchObject({ error: { code: 'invalid_request' } });
    await expect(
      requestRpc(client.nc, 'hf.rpc.test.nobody', {}, z.unknown(), 500),
    ).rejects.toBeInstanceOf(RpcFailure);
    sub.unsubscribe();
  });

  it('checks both directions of a call of the RPC table', async () => {
    const double: RpcEntry<typeof pingSchema, z.ZodObject<{ doubled: z.ZodNumber }>> = {
      subject: 'hf.rpc.test.table-double',
      request: pingSchema,
      reply: z.object({ doubled: z.number() }).strict(),
    };
    let handled = 0;
    let answerOffContract = false;
    const sub = serveRpc(client.nc, double, 'test', async (req) => {
      handled += 1;
      return answerOffContract ? ({ doubled: String(req.n * 2) } as unknown as { doubled: number }) : { doubled: req.n * 2 };
    });
    try {
      await expect(requestRpc(client.nc, double, { v: 1, n: 21 })).resolves.toEqual({ doubled: 42 });
      // A payload off the contract fails in the caller, before anything is sent.
      await expect(requestRpc(client.nc, double, { v: 1, n: 1.5 })).rejects.toMatchObject({ error: { code: 'invalid_request' } });
      expect(handled).toBe(1);
      // A handler answering off the contract is the service's bug: `internal`, never the bad data.
      answerOffContract = true;
      await expect(requestRpc(client.nc, double, { v: 1, n: 2 })).rejects.toMatchObject({ error: { code: 'internal' } });
    } finally {
      sub.unsubscribe();
    }
  });
});
