import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { codeStatSchema, codeUploadSchema, RPC, SCHEMA_VERSION } from '@hounsfield/contracts';
import { requestRpc, RpcFailure } from '@hounsfield/messaging';
import { createHash, randomBytes } from 'node:crypto';
import { writeGrant } from './checkpoint-client';
import { Harness, startHarness } from './service-harness';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('uploaded project code (content-addressed, fs store)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('fs');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const call = <T>(subject: string, body: object, schema: Parameters<typeof requestRpc>[3]) =>
    requestRpc(h.nats.nc, subject, { v: SCHEMA_VERSION, ...body }, schema) as Promise<T>;

  it('files an archive under its sha256 once, and a second upload of it is answered without a grant', async () => {
    const archive = randomBytes(4096);
    const digest = digestOf(archive);
    expect(await call(RPC.codeStat, { digest }, codeStatSchema)).toEqual({ digest, stored: false });
    const upload = await call<{ uploadId: string; grant: never }>(RPC.codeUpload, { digest }, codeUploadSchema);
    await writeGrant(upload.grant, archive);
    expect(await call(RPC.codeCommit, { digest, uploadId: upload.uploadId }, codeStatSchema)).toEqual({ digest, stored: true, size: 4096 });
    expect(await call(RPC.codeUpload, { digest }, codeUploadSchema)).toEqual({ stored: true });
    const keys: string[] = [];
    for await (const entry of h.store.list('code/')) keys.push(entry.key);
    expect(keys).toEqual([`code/${digest.slice(7)}.tar`]); // the staged copy is gone
  });

  it('refuses bytes that do not match the digest, and keeps nothing of them', async () => {
    const claimed = digestOf(Buffer.from('what the client packed'));
    const upload = await call<{ uploadId: string; grant: never }>(RPC.codeUpload, { digest: claimed }, codeUploadSchema);
    await writeGrant(upload.grant, Buffer.from('something else'));
    const error = await call(RPC.codeCommit, { digest: claimed, uploadId: upload.uploadId }, codeStatSchema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcFailure);
    expect((error as RpcFailure).message).toContain(`not ${claimed}`);
    expect(await call(RPC.codeStat, { digest: claimed }, codeStatSchema)).toEqual({ digest: claimed, stored: false });
  });
});
