import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../../..');

/** Runs `script` in a fresh node process as the services run (scripts/ts-register.cjs); its stdout. */
async function runNode(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-r', join(ROOT, 'scripts/ts-register.cjs'), '-e', script], { cwd: ROOT });
  return stdout.trim();
}

describe('object store drivers', () => {
  it('loads the S3 client (minio) only for the s3 driver, not for a process using the fs store', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hf-lazy-'));
    try {
      const script = `
        const storage = require('./libs/storage/src/index.ts');
        storage.createObjectStore({ driver: 'fs', root: ${JSON.stringify(join(root, 'objects'))} }).then((store) => {
          const minio = Object.keys(require.cache).some((file) => file.includes('/node_modules/minio/'));
          console.log(JSON.stringify({ driver: store.driver, minio }));
        });`;
      expect(JSON.parse(await runNode(script))).toEqual({ driver: 'fs', minio: false });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
