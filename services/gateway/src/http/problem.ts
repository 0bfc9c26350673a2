import { RpcErrorCode } from '@hounsfield/contracts';

/** RFC 9457 problem details, with the failing field paths for validation problems. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { path: string; message: string }[];
  [extension: string]: unknown;
}

const STATUS: Record<RpcErrorCode, { status: number; title: string }> = {
  invalid_request: { status: 400, title: 'Invalid request' },
  not_found: { status: 404, title: 'Not found' },
  unschedulable: { status: 422, title: 'Cannot be scheduled' },
  conflict: { status: 409, title: 'Conflict' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
};

/** The one place where error codes become HTTP statuses. */
export function problemFor(code: RpcErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const { status, title } = STATUS[code];
  return { type: `https://hounsfield.dev/problems/${code.replace(/_/g, '-')}`, title, status, detail, ...extra };
}

export class ProblemException extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ProblemException';
  }
}
