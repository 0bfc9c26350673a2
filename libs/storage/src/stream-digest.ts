import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StorageError } from './storage.errors';

/** Running size and sha256 of the bytes seen so far. */
export class StreamDigest {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  get size(): number {
    return this.bytes;
  }

  /** Lower-case hex; call once, at the end. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Yields `source`'s chunks as Buffers while feeding `digest`, and throws (before the last chunk
 * could be committed) when the body is not a byte stream or does not match `declaredSize`.
 * Consumers commit only after this generator returns, so a short or long body never becomes visible.
 */
export async function* digested(
  key: string,
  source: Readable,
  digest: StreamDigest,
  declaredSize?: number,
): AsyncGenerator<Buffer, void, undefined> {
  for await (const raw of source) {
    const chunk = toBuffer(key, raw);
    digest.update(chunk);
    if (declaredSize !== undefined && digest.size > declaredSize) {
      throw StorageError.io(`body of ${key} is longer than the declared ${declaredSize} bytes`, key);
    }
    yield chunk;
  }
  if (declaredSize !== undefined && digest.size !== declaredSize) {
    throw StorageError.io(`body of ${key} ended after ${digest.size} of the declared ${declaredSize} bytes`, key);
  }
}

/** Hex sha256 and size of a whole stream, read chunk by chunk. */
export async function digestStream(key: string, source: Readable): Promise<{ size: number; sha256: string }> {
  const digest = new StreamDigest();
  for await (const chunk of source) digest.update(toBuffer(key, chunk));
  return { size: digest.size, sha256: digest.sha256() };
}

function toBuffer(key: string, chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // A string chunk means someone called setEncoding on the body; its bytes are no longer the file's.
  throw StorageError.invalidArgument(`body of ${key} must be a byte stream (no setEncoding, no object mode)`, key);
}
