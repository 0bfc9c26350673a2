import { INestApplication, LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface BootstrapOptions {
  port: number;
  host: string;
  logLevel: LogLevel;
  /**
   * Largest JSON body, in bytes. With it, requests Express rejects before any route runs (bad
   * JSON, too large, an undecodable path) are answered as problem+json too.
   */
  jsonBodyLimitBytes?: number;
}

const PROBLEMS: Record<number, { title: string; slug: string }> = {
  400: { title: 'Invalid request', slug: 'invalid-request' },
  413: { title: 'Payload too large', slug: 'payload-too-large' },
  415: { title: 'Unsupported media type', slug: 'unsupported-media-type' },
};

/** Express's own errors (body parsing, path decoding) as RFC 9457 problems; never a stack trace. */
function problemOfExpressError(error: unknown, request: Request, response: Response, next: NextFunction): void {
  if (response.headersSent) return next(error);
  const status = (error as { status?: unknown }).status;
  const known = typeof status === 'number' ? PROBLEMS[status] : undefined;
  const code = known ? (status as number) : 400;
  const { title, slug } = known ?? PROBLEMS[400];
  const type = (error as { type?: unknown }).type;
  const detail =
    type === 'entity.parse.failed'
      ? 'the body is not valid JSON'
      : type === 'entity.too.large'
        ? `the body is larger than ${(error as { limit?: number }).limit} bytes`
        : error instanceof URIError
          ? 'the path is not valid percent-encoding'
          : String((error as { message?: unknown }).message ?? 'the request cannot be read');
  response
    .status(code)
    .type('application/problem+json')
    .send(JSON.stringify({ type: `https://hounsfield.dev/problems/${slug}`, title, status: code, detail, instance: request.originalUrl }));
}

/** Creates the Nest application, listens, and shuts down cleanly on SIGINT/SIGTERM. */
export async function bootstrapService(module: Type<unknown>, options: BootstrapOptions): Promise<INestApplication> {
  const limit = options.jsonBodyLimitBytes;
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: LEVELS.slice(0, LEVELS.indexOf(options.logLevel) + 1),
    bufferLogs: false,
    bodyParser: limit === undefined,
  });
  if (limit !== undefined) {
    app.useBodyParser('json', { limit });
    app.use(problemOfExpressError);
  }
  app.enableShutdownHooks();
  await app.init();
  if (limit !== undefined) app.use(problemOfExpressError);
  await app.listen(options.port, options.host);
  return app;
}
