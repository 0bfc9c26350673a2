import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { RpcFailure } from '@hounsfield/messaging';
import type { Request, Response } from 'express';
import { Problem, ProblemException, problemFor } from './problem';

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
      if (status === 404) return problemFor('not_found', detail);
      if (status >= 400 && status < 500) return { ...problemFor('invalid_request', detail), status };
      if (status === 503) return { ...problemFor('unavailable', detail), ...(typeof body === 'object' ? { checks: body } : {}) };
      return problemFor('internal', detail);
    }
    this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    return problemFor('internal', 'internal error; see the gateway log');
  }
}
