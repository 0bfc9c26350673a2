import { decodeCursor, encodeCursor } from '@hounsfield/contracts';
import { z } from 'zod';
import { problem } from './problem';

const keyCursorSchema = z.object({ after: z.string() }).strict();

/**
 * Pages a small list the gateway holds whole (users, tokens, workers), ordered by a unique key:
 * the cursor is the last key shown, so items added meanwhile never shift a page.
 */
export function pageOf<T>(items: T[], key: (item: T) => string, limit: number, cursor?: string): { items: T[]; nextCursor?: string } {
  const after = cursor === undefined ? undefined : decodeCursor(keyCursorSchema, cursor)?.after;
  if (cursor !== undefined && after === undefined) throw problem('invalid_request', 'cursor is not one this list returned; start without it');
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((item) => key(item) > after);
  const page = rest.slice(0, limit);
  return { items: page, ...(rest.length > limit ? { nextCursor: encodeCursor({ after: key(page[page.length - 1]) }) } : {}) };
}
