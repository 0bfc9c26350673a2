import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { RpcFailure } from '@hounsfield/messaging';
import type { Request, Response } from 'express';
import { Problem, ProblemCode, ProblemException, problemFor } from './problem';

/** HTTP statuses Nest or Express raise themselves, as problem codes. */
const HTTP_STATUS_CODES: Record<number, ProblemCode> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'unavailable',
};

/** Every error leaves the gateway as application/problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProblemFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const problem = this.toProblem(exception);
    problem.instance = request.originalUrl;
    if (response.headersSent) {
      response.end();
      return;
    }
    if (exception instanceof ProblemException) {
      for (const [name, value] of Object.entries(exception.headers)) response.setHeader(name, value);
    }
    if (problem.status === 401 && !response.hasHeader('WWW-Authenticate')) response.setHeader('WWW-Authenticate', 'Bearer realm="hounsfield"');
    response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown): Problem {
    if (exception instanceof ProblemException) return { ...exception.problem };
    if (exception instanceof RpcFailure) {
      const { code, message, issues, details } = exception.error;
      return problemFor(code, message, { ...(issues ? { errors: issues } : {}), ...(details ?? {}) });
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const detail = typeof body === 'string' ? body : String((body as { message?: unknown }).message ?? exception.message);
      const code = HTTP_STATUS_CODES[status];
      if (code === 'unavailable') return { ...problemFor(code, detail), ...(typeof body === 'object' ? { checks: body } : {}) };
      if (code !== undefined) return problemFor(code, detail);
      if (status >= 400 && status < 500) return { ...problemFor('invalid_request', detail), status };
      return problemFor('internal', detail);
    }
    this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    return problemFor('internal', 'internal error; see the gateway log');
  }
}
