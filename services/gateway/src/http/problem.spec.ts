import { describe, expect, it } from '@jest/globals';
import { ArgumentsHost } from '@nestjs/common';
import { RpcFailure } from '@hounsfield/messaging';
import { ProblemFilter } from './problem.filter';

function capture(exception: unknown) {
  const sent: { status?: number; type?: string; body?: string } = {};
  const response = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    type(t: string) {
      sent.type = t;
      return this;
    },
    send(body: string) {
      sent.body = body;
      return this;
    },
  };
  const host = {
    switchToHttp: () => ({ getRequest: () => ({ originalUrl: '/v1/jobs' }), getResponse: () => response }),
  } as unknown as ArgumentsHost;
  new ProblemFilter().catch(exception, host);
  return { ...sent, problem: JSON.parse(sent.body ?? '{}') };
}

describe('problem+json mapping', () => {
  it.each([
    ['invalid_request', 400],
    ['not_found', 404],
    ['conflict', 409],
    ['unschedulable', 422],
    ['unavailable', 503],
    ['internal', 500],
  ] as const)('maps %s to %i', (code, status) => {
    const out = capture(new RpcFailure({ code, message: 'why' }));
    expect(out.status).toBe(status);
    expect(out.type).toBe('application/problem+json');
    expect(out.problem).toMatchObject({ status, detail: 'why', instance: '/v1/jobs' });
  });

  it('keeps field paths and extension members', () => {
    const out = capture(
      new RpcFailure({ code: 'unschedulable', message: 'no', issues: [{ path: 'hyperparameters.globalBatch', message: 'x' }], details: { nearestValidGlobalBatches: [7, 14] } }),
    );
    expect(out.problem.errors).toEqual([{ path: 'hyperparameters.globalBatch', message: 'x' }]);
    expect(out.problem.nearestValidGlobalBatches).toEqual([7, 14]);
  });

  it('hides unexpected errors behind a 500 without leaking internals', () => {
    const out = capture(new Error('secret stack'));
    expect(out.status).toBe(500);
    expect(out.body).not.toContain('secret');
  });
});
