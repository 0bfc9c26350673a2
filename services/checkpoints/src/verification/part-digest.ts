import { createHash, type Hash } from 'node:crypto';
import type { ObjectStore } from '@hounsfield/storage';

export interface PartDigest {
  size: number;
  sha256: string;
  /** The stored object's modification time when it was read, to notice a later overwrite. */
  lastModified: number;
}

/**
 * Streams one stored part through sha256 (and through `whole`, the running hash of its file, when
 * given). Only a stream buffer is ever in memory. Undefined when the part is not in the store.
 */
export async function digestPart(store: ObjectStore, key: string, whole?: Hash): Promise<PartDigest | undefined> {
  const stat = await store.stat(key);
  if (stat === undefined) return undefined;
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await store.get(key)) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    whole?.update(bytes);
    size += bytes.length;
  }
  return { size, sha256: hash.digest('hex'), lastModified: stat.lastModified.getTime() };
}
