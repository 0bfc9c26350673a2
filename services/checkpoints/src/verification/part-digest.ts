import type { Hash } from 'node:crypto';
import type { ObjectStore } from '@hounsfield/storage';
import { StreamGarbage } from './stream-garbage';

export interface StoredPart {
  size: number;
  /** The stored object's modification time when it was read, to notice a later overwrite. */
  lastModified: number;
}

/**
 * Streams one stored part into `whole`, the running sha256 of its file (when given; a size check
 * alone reads nothing), through the store's reused buffers where it has them (`scan`). Only a
 * stream buffer is ever in memory. Undefined when the part is missing.
 */
export async function readPart(store: ObjectStore, key: string, whole?: Hash): Promise<StoredPart | undefined> {
  const stat = await store.stat(key);
  if (stat === undefined) return undefined;
  if (whole === undefined) return { size: stat.size, lastModified: stat.lastModified.getTime() };
  if (store.scan) {
    // Reused buffers (the fs store): no garbage per chunk, and no allocation per read.
    const size = await store.scan(key, (piece) => whole.update(piece));
    return { size, lastModified: stat.lastModified.getTime() };
  }
  let size = 0;
  const garbage = new StreamGarbage();
  for await (const chunk of await store.get(key)) {
    whole.update(chunk as Buffer);
    size += (chunk as Buffer).length;
    garbage.done((chunk as Buffer).length);
  }
  return { size, lastModified: stat.lastModified.getTime() };
}
