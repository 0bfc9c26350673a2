import { z } from 'zod';

/**
 * Cursor paging of list routes: `?limit=<n>&cursor=<opaque>`; a page answers `nextCursor` while
 * more items follow. Cursors are opaque to clients (base64url) and stay valid as items are added.
 */
export const pageCursorSchema = z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/, 'a cursor from a previous page (nextCursor)');

export const pageQueryShape = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: pageCursorSchema.optional(),
};

/** Encodes a position as an opaque cursor. */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** Decodes a cursor against the shape its route wrote, or undefined when it is not one. */
export function decodeCursor<T extends z.ZodType>(schema: T, cursor: string): z.infer<T> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
