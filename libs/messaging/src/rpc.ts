import { Logger } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { RpcError, rpcReplySchema, WORKER_RPC_PREFIX, WorkerRpcCall, workerRpcListenSubject } from '@hounsfield/contracts';
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

/**
 * Serves a request/reply subject in a queue group (one replica answers each request). Requests
 * are validated; every reply is `{ ok, data }` or `{ ok: false, error }`, never an exception.
 */
export function serveRpc<Req extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  queue: string,
  schema: Req,
  handler: (request: z.infer<Req>, subject: string) => Promise<unknown>,
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
        let reply: unknown;
        try {
          const request = decodeJson(schema, msg.data);
          reply = { ok: true, data: await handler(request, msg.subject) };
        } catch (error) {
          if (error instanceof RpcFailure) {
            reply = { ok: false, error: error.error };
          } else if (error instanceof MessagingError) {
            reply = { ok: false, error: { code: 'invalid_request', message: error.message } };
          } else {
            logger.error(`handler failed: ${error instanceof Error ? error.stack : String(error)}`);
            reply = { ok: false, error: { code: 'internal', message: 'internal error; see the service log' } };
          }
        }
        msg.respond(encodeJson(reply));
      })();
    },
  });
}

/**
 * Serves a worker call (`WORKER_RPC`) from every worker: the handler learns which worker asks from
 * the subject, which NATS permissions let only that worker publish on.
 */
export function serveWorkerRpc<Req extends z.ZodType>(
  nc: NatsConnection,
  call: WorkerRpcCall,
  queue: string,
  schema: Req,
  handler: (request: z.infer<Req>, workerId: string) => Promise<unknown>,
): Subscription {
  const prefixTokens = WORKER_RPC_PREFIX.split('.').length;
  return serveRpc(nc, workerRpcListenSubject(call), queue, schema, (request, subject) => handler(request, subject.split('.')[prefixTokens]), new Logger(`rpc:${call}`));
}

/** Sends a request and validates the reply; a missing responder becomes an `unavailable` failure. */
export async function requestRpc<T extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  dataSchema: T,
  timeoutMs = 10_000,
): Promise<z.infer<T>> {
  let response;
  try {
    response = await nc.request(subject, encodeJson(payload), { timeout: timeoutMs });
  } catch (error) {
    throw new RpcFailure({ code: 'unavailable', message: `no answer on ${subject}: ${String(error)}` });
  }
  const replySchema = rpcReplySchema(dataSchema);
  let reply: { ok: true; data: unknown } | { ok: false; error: RpcError };
  try {
    reply = decodeJson(replySchema, response.data) as typeof reply;
  } catch (error) {
    const detail = error instanceof z.ZodError ? describeIssues(error) : String(error);
    throw new RpcFailure({ code: 'internal', message: `malformed reply on ${subject}: ${detail}` });
  }
  if (!reply.ok) throw new RpcFailure(reply.error);
  return reply.data as z.infer<T>;
}
