import { Logger } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  RpcEntry,
  RpcError,
  rpcReplySchema,
  WORKER_RPC_PREFIX,
  WorkerRpcCall,
  WorkerRpcEntry,
  workerRpcListenSubject,
  WorkerServedEntry,
  workerRpcSubject,
} from '@hounsfield/contracts';
import { z } from 'zod';
import { decodeJson, describeIssues, encodeJson } from './codec';
import { MessagingError } from './messaging.errors';

/** A handler failure that carries an RPC error code back to the caller. */
export class RpcFailure extends Error {
  constructor(readonly error: RpcError) {
    super(error.message);
    this.name = 'RpcFailure';
  }
}

type Handler<Req extends z.ZodType, Rep> = (request: z.infer<Req>, subject: string) => Promise<Rep>;

/**
 * Serves a call of the RPC table (`SERVICE_RPCS`) in a queue group (one replica answers each
 * request): the request is validated against the entry's request schema and the handler's answer
 * against its reply schema (a handler answering off-contract is a bug: logged, `internal` to the
 * caller). Every reply is `{ ok, data }` or `{ ok: false, error }`, never an exception.
 */
export function serveRpc<E extends RpcEntry>(nc: NatsConnection, entry: E, queue: string, handler: Handler<E['request'], z.input<E['reply']>>): Subscription;
/** Serves a subject outside the table (tests, fakes) with a request schema and no reply check. */
export function serveRpc<Req extends z.ZodType>(nc: NatsConnection, subject: string, queue: string, schema: Req, handler: Handler<Req, unknown>, logger?: Logger): Subscription;
export function serveRpc(
  nc: NatsConnection,
  target: RpcEntry | string,
  queue: string,
  schemaOrHandler: z.ZodType | Handler<z.ZodType, unknown>,
  maybeHandler?: Handler<z.ZodType, unknown>,
  maybeLogger?: Logger,
): Subscription {
  if (typeof target === 'string') {
    return serveSubject(nc, target, queue, schemaOrHandler as z.ZodType, undefined, maybeHandler as Handler<z.ZodType, unknown>, maybeLogger);
  }
  return serveSubject(nc, target.subject, queue, target.request, target.reply, schemaOrHandler as Handler<z.ZodType, unknown>);
}

function serveSubject(
  nc: NatsConnection,
  subject: string,
  queue: string,
  request: z.ZodType,
  reply: z.ZodType | undefined,
  handler: Handler<z.ZodType, unknown>,
  logger = new Logger(`rpc:${subject}`),
): Subscription {
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        logger.error(`subscription failed: ${err.message}`);
        return;
      }
      void (async () => {
        let answer: unknown;
        try {
          const data = await handler(decodeJson(request, msg.data), msg.subject);
          answer = { ok: true, data: reply ? checkedReply(reply, data, subject) : data };
        } catch (error) {
          if (error instanceof RpcFailure) {
            answer = { ok: false, error: error.error };
          } else if (error instanceof MessagingError) {
            answer = { ok: false, error: { code: 'invalid_request', message: error.message } };
          } else {
            logger.error(`handler failed: ${error instanceof Error ? error.stack : String(error)}`);
            answer = { ok: false, error: { code: 'internal', message: 'internal error; see the service log' } };
          }
        }
        msg.respond(encodeJson(answer));
      })();
    },
  });
}

function checkedReply(schema: z.ZodType, data: unknown, subject: string): unknown {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new Error(`reply on ${subject} breaks its contract: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Serves a worker call (`WORKER_RPCS`) from every worker: the handler learns which worker asks from
 * the subject, which NATS permissions let only that worker publish on.
 */
export function serveWorkerRpc<E extends WorkerRpcEntry>(
  nc: NatsConnection,
  entry: E,
  queue: string,
  handler: (request: z.infer<E['request']>, workerId: string) => Promise<z.input<E['reply']>>,
): Subscription;
/** A worker call served with a request schema and no reply check (tests, fakes). */
export function serveWorkerRpc<Req extends z.ZodType>(
  nc: NatsConnection,
  call: WorkerRpcCall,
  queue: string,
  schema: Req,
  handler: (request: z.infer<Req>, workerId: string) => Promise<unknown>,
): Subscription;
export function serveWorkerRpc(
  nc: NatsConnection,
  target: WorkerRpcEntry | WorkerRpcCall,
  queue: string,
  schemaOrHandler: z.ZodType | ((request: unknown, workerId: string) => Promise<unknown>),
  maybeHandler?: (request: unknown, workerId: string) => Promise<unknown>,
): Subscription {
  const prefixTokens = WORKER_RPC_PREFIX.split('.').length;
  const call = typeof target === 'string' ? target : target.call;
  const request = typeof target === 'string' ? (schemaOrHandler as z.ZodType) : target.request;
  const reply = typeof target === 'string' ? undefined : target.reply;
  const handler = (typeof target === 'string' ? maybeHandler : schemaOrHandler) as (request: unknown, workerId: string) => Promise<unknown>;
  return serveSubject(nc, workerRpcListenSubject(call), queue, request, reply, (req, subject) => handler(req, subject.split('.')[prefixTokens]), new Logger(`rpc:${call}`));
}

/**
 * Calls an entry of the RPC table: the payload is checked against its request schema before it is
 * sent (a bad payload fails here as `invalid_request`), the reply against its reply schema.
 */
export function requestRpc<E extends RpcEntry>(nc: NatsConnection, entry: E, payload: z.input<E['request']>, timeoutMs?: number): Promise<z.infer<E['reply']>>;
/** Calls a subject outside the table (tests, fakes) with a reply schema of the caller's choosing. */
export function requestRpc<T extends z.ZodType>(nc: NatsConnection, subject: string, payload: unknown, dataSchema: T, timeoutMs?: number): Promise<z.infer<T>>;
export function requestRpc(
  nc: NatsConnection,
  target: RpcEntry | string,
  payload: unknown,
  schemaOrTimeout?: z.ZodType | number,
  maybeTimeout?: number,
): Promise<unknown> {
  if (typeof target === 'string') return requestSubject(nc, target, payload, schemaOrTimeout as z.ZodType, maybeTimeout);
  return Promise.resolve().then(() =>
    requestSubject(nc, target.subject, checkedPayload(target.request, payload, target.subject), target.reply, schemaOrTimeout as number | undefined),
  );
}

/** A worker's call of `WORKER_RPCS` on its own subject (the Python agent's calls, from TypeScript tests and tools). */
export function requestWorkerRpc<E extends WorkerRpcEntry>(
  nc: NatsConnection,
  workerId: string,
  entry: E,
  payload: z.input<E['request']>,
  timeoutMs?: number,
): Promise<z.infer<E['reply']>> {
  const subject = workerRpcSubject(workerId, entry.call);
  return Promise.resolve().then(() => requestSubject(nc, subject, checkedPayload(entry.request, payload, subject), entry.reply, timeoutMs)) as Promise<
    z.infer<E['reply']>
  >;
}

/**
 * Calls a worker (`WORKER_SERVED_RPCS`, for example the scheduler cancelling an attempt): the
 * payload is checked before it is sent and the worker's reply against the entry's reply schema.
 */
export async function requestWorker<E extends WorkerServedEntry>(
  nc: NatsConnection,
  workerId: string,
  entry: E,
  payload: z.input<E['request']>,
  timeoutMs = 5_000,
): Promise<z.infer<E['reply']>> {
  const subject = entry.subject(workerId);
  return exchange(nc, subject, checkedPayload(entry.request, payload, subject), entry.reply, timeoutMs) as Promise<z.infer<E['reply']>>;
}

function checkedPayload(schema: z.ZodType, payload: unknown, subject: string): unknown {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new RpcFailure({ code: 'invalid_request', message: `request on ${subject}: ${describeIssues(parsed.error)}` });
  return payload;
}

async function requestSubject(nc: NatsConnection, subject: string, payload: unknown, dataSchema: z.ZodType, timeoutMs = 10_000): Promise<unknown> {
  const reply = (await exchange(nc, subject, payload, rpcReplySchema(dataSchema), timeoutMs)) as { ok: true; data: unknown } | { ok: false; error: RpcError };
  if (!reply.ok) throw new RpcFailure(reply.error);
  return reply.data;
}

/** One request and its decoded reply: no answer is `unavailable`, a reply off `replySchema` is `internal`. */
async function exchange(nc: NatsConnection, subject: string, payload: unknown, replySchema: z.ZodType, timeoutMs: number): Promise<unknown> {
  let response;
  try {
    response = await nc.request(subject, encodeJson(payload), { timeout: timeoutMs });
  } catch (error) {
    throw new RpcFailure({ code: 'unavailable', message: `no answer on ${subject}: ${String(error)}` });
  }
  try {
    return decodeJson(replySchema, response.data);
  } catch (error) {
    const detail = error instanceof z.ZodError ? describeIssues(error) : String(error);
    throw new RpcFailure({ code: 'internal', message: `malformed reply on ${subject}: ${detail}` });
  }
}
