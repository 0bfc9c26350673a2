import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;

/** Deterministic pseudo-random bytes (xorshift32), produced chunk by chunk so no test holds a whole body. */
function* patternChunks(totalBytes: number, seed: number): Generator<Buffer> {
  let state = seed >>> 0 || 1;
  for (let done = 0; done < totalBytes; done += CHUNK) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, totalBytes - done));
    for (let i = 0; i < chunk.length; i += 1) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      chunk[i] = state & 0xff;
    }
    yield chunk;
  }
}

/** A body of `totalBytes` pseudo-random bytes. */
export function patternStream(totalBytes: number, seed: number): Readable {
  return Readable.from(patternChunks(totalBytes, seed), { objectMode: false });
}

/** The sha256 the pattern must have, computed independently of the store. */
export function patternSha256(totalBytes: number, seed: number): string {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(totalBytes, seed)) hash.update(chunk);
  return hash.digest('hex');
}

/** A body that delivers `bytesBeforeFailure` bytes and then errors, like a worker's upload cut off midway. */
export function failingStream(bytesBeforeFailure: number, seed = 7): Readable {
  return Readable.from(
    (function* () {
      yield* patternChunks(bytesBeforeFailure, seed);
      throw new Error('connection reset by peer');
    })(),
    { objectMode: false },
  );
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function sha256Of(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export const bodyOf = (data: Buffer | string): Readable => Readable.from([Buffer.from(data)], { objectMode: false });
