import type { Client } from 'minio';
import type { Readable } from 'node:stream';
import type { PutResult } from './object-store';
import { StorageError } from './storage.errors';
import { digested, StreamDigest } from './stream-digest';

/** S3 allows at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;
const MiB = 1024 * 1024;

export interface StreamingUploadOptions {
  bucket: string;
  key: string;
  /** Preferred part size; raised when a declared size would otherwise need more than 10 000 parts. */
  partSize: number;
  size?: number;
  contentType?: string;
}

/**
 * Uploads a stream of unknown length to S3 holding at most one part in memory: a body that fits in
 * one part goes up in a single PUT, a larger one as a multipart upload whose parts are sent as they
 * fill. The object appears only when the last step (the PUT, or CompleteMultipartUpload) succeeds;
 * any failure before that (the body erroring, a size mismatch, the server) aborts the multipart
 * upload so its parts do not linger as invisible, billed storage.
 *
 * This is done here rather than with `client.putObject(stream)` because minio's streaming path
 * never settles when the body errors (it pipes without forwarding the error), buffers parts sized
 * for 5 TiB when the length is unknown, and resumes stale uploads of the same key.
 */
export async function streamingUpload(client: Client, body: Readable, options: StreamingUploadOptions): Promise<PutResult> {
  const { bucket, key } = options;
  const partSize = partSizeFor(options.partSize, options.size);
  const headers: Record<string, string> = options.contentType ? { 'Content-Type': options.contentType } : {};
  const digest = new StreamDigest();
  const parts: { part: number; etag: string }[] = [];
  let uploadId: string | undefined;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of digested(key, body, digest, options.size)) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      // Strictly more than one part: a body of exactly one part still goes up in a single PUT.
      while (pendingBytes > partSize) {
        const buffered = Buffer.concat(pending, pendingBytes);
        if (parts.length + 1 >= MAX_PARTS) throw tooManyParts(key, partSize);
        uploadId ??= await client.initiateNewMultipartUpload(bucket, key, headers);
        parts.push(await uploadPart(client, bucket, key, uploadId, parts.length + 1, buffered.subarray(0, partSize)));
        pending = [buffered.subarray(partSize)];
        pendingBytes -= partSize;
      }
    }
    const tail = Buffer.concat(pending, pendingBytes);
    if (uploadId === undefined) {
      await client.putObject(bucket, key, tail, tail.length, headers);
    } else {
      if (tail.length > 0) parts.push(await uploadPart(client, bucket, key, uploadId, parts.length + 1, tail));
      await client.completeMultipartUpload(bucket, key, uploadId, parts);
    }
  } catch (error) {
    body.destroy();
    if (uploadId !== undefined) {
      // Best effort: the original error is the one worth reporting.
      await client.abortMultipartUpload(bucket, key, encodeURIComponent(uploadId)).catch(() => undefined);
    }
    throw error;
  }
  return { size: digest.size, sha256: digest.sha256() };
}

function tooManyParts(key: string, partSize: number): StorageError {
  const limit = (partSize * MAX_PARTS) / 1024 ** 3;
  return StorageError.invalidArgument(
    `${key} is larger than ${limit.toFixed(0)} GiB (${MAX_PARTS} parts of ${partSize / MiB} MiB); pass its size so the part size can grow`,
    key,
  );
}

function partSizeFor(preferred: number, declaredSize: number | undefined): number {
  if (declaredSize === undefined) return preferred;
  const needed = Math.ceil(declaredSize / MAX_PARTS / MiB) * MiB;
  return Math.max(preferred, needed);
}

async function uploadPart(
  client: Client,
  bucket: string,
  key: string,
  uploadId: string,
  part: number,
  payload: Buffer,
): Promise<{ part: number; etag: string }> {
  // minio puts uploadID into the query string as given; AWS upload ids may hold reserved characters.
  const { etag } = await client.uploadPart(
    { bucketName: bucket, objectName: key, uploadID: encodeURIComponent(uploadId), partNumber: part, headers: {} },
    payload,
  );
  return { part, etag };
}
