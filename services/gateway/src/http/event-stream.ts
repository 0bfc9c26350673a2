import type { Response } from 'express';

/**
 * Starts a server-sent event response: headers that keep proxies from buffering or caching it, and
 * a keep-alive comment every `keepaliveMs` so idle streams stay open. Returns what stops the
 * keep-alive.
 */
export function openEventStream(response: Response, keepaliveMs: number): () => void {
  response.status(200);
  response.setHeader('Content-Type', 'text/event-stream');
  response.setHeader('Cache-Control', 'no-cache');
  response.setHeader('Connection', 'keep-alive');
  response.setHeader('X-Accel-Buffering', 'no');
  response.flushHeaders();
  const keepalive = setInterval(() => response.write(': keep-alive\n\n'), keepaliveMs);
  return () => clearInterval(keepalive);
}
