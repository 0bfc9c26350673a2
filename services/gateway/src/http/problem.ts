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

/** The services' error codes, and those only HTTP has (authentication, roles, limits). */
export type ProblemCode = RpcErrorCode | 'unauthenticated' | 'forbidden' | 'too_many_requests' | 'payload_too_large' | 'unsupported_media_type';

const STATUS: Record<ProblemCode, { status: number; title: string }> = {
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  invalid_request: { status: 400, title: 'Invalid request' },
  not_found: { status: 404, title: 'Not found' },
  unschedulable: { status: 422, title: 'Cannot be scheduled' },
  conflict: { status: 409, title: 'Conflict' },
  unavailable: { status: 503, title: 'Service unavailable' },
  internal: { status: 500, title: 'Internal error' },
};

/** The one place where error codes become HTTP statuses. */
export function problemFor(code: ProblemCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const { status, title } = STATUS[code];
  return { type: `https://hounsfield.dev/problems/${code.replace(/_/g, '-')}`, title, status, detail, ...extra };
}

export class ProblemException extends Error {
  constructor(
    readonly problem: Problem,
    /** Response headers that go with it (WWW-Authenticate on a 401, Retry-After on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail);
    this.name = 'ProblemException';
  }
}

/** Shorthand for throwing a problem from a guard or controller. */
export function problem(code: ProblemCode, detail: string, headers: Record<string, string> = {}): ProblemException {
  return new ProblemException(problemFor(code, detail), headers);
}
