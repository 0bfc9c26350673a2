import { AccessGrant } from '@hounsfield/contracts';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Streams bytes to or from one stored object through a grant (presigned URL or shared path), so
 * the gateway relays a checkpoint file or a legacy upload without holding it in memory.
 */
export async function putThroughGrant(grant: AccessGrant, body: Readable, size: number): Promise<void> {
  if (grant.kind === 'path') {
    // Atomic on the shared filesystem: a temporary name in the same directory, then a rename.
    const temp = join(dirname(grant.path), `.${randomUUID()}.hf-tmp`);
    try {
      await pipeline(body, createWriteStream(temp, { flags: 'wx' }));
      await rename(temp, grant.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    return;
  }
  const url = new URL(grant.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  await new Promise<void>((resolve, reject) => {
    // S3 refuses chunked uploads to presigned URLs: the length goes in the header.
    const req = send(url, { method: 'PUT', headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`the store answered ${res.statusCode} to the upload`))));
    });
    req.on('error', reject);
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

export async function getThroughGrant(grant: AccessGrant): Promise<Readable> {
  if (grant.kind === 'path') return createReadStream(grant.path);
  const url = new URL(grant.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
  if (response.statusCode !== 200) {
    response.resume();
    throw new Error(`the store answered ${response.statusCode} to the download`);
  }
  return response;
}
