import { CheckpointRecord, checkpointRecordSchema, JobRecord, TrainingJobSpecInput } from '@hounsfield/contracts';
import { LocalStack, REPO_ROOT, pythonExecutable } from '@hounsfield/testing';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { FAST_ENV, Fixture, fixtureOf, withRegisteredWorker } from './stack-fixture';

export const run = promisify(execFile);

/** The whole stack with the fs object store inside the test's data directory, and one CPU worker. */
export async function startCheckpointStack(workerId: string): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-e2e-ckpt-'));
  const stack = await LocalStack.start({
    dataDir,
    env: { ...FAST_ENV, HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: join(dataDir, 'objects') },
  });
  return withRegisteredWorker(fixtureOf(stack, dataDir), { workerId });
}

/** GET a gateway path as the first admin, validated against its schema. */
export async function getJson<T extends z.ZodType>(fixture: Fixture, path: string, schema: T): Promise<z.infer<T>> {
  const response = await fixture.api(path);
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${body}`);
  return schema.parse(JSON.parse(body));
}

export function listCheckpoints(fixture: Fixture, jobId: string): Promise<CheckpointRecord[]> {
  return getJson(fixture, `/v1/checkpoints?job=${jobId}`, z.object({ checkpoints: z.array(checkpointRecordSchema) })).then(
    (r) => r.checkpoints,
  );
}

/** Downloads a file of a committed checkpoint through the gateway and checks it against the manifest's sha256. */
export async function downloadFile(fixture: Fixture, ref: string, name: string): Promise<Buffer> {
  const response = await fixture.api(`/v1/checkpoints/${ref}/files/${name}`);
  if (!response.ok) throw new Error(`download of ${ref}/${name}: ${response.status} ${await response.text()}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== response.headers.get('x-checkpoint-sha256')) throw new Error(`${ref}/${name}: sha256 differs from the manifest`);
  return bytes;
}

/** Float32 tensors of a safetensors file by name (the format: u64 header length, JSON header, raw data). */
export function readSafetensors(bytes: Buffer): Map<string, Float32Array> {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, Float32Array>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new Error(`${name} is ${entry.dtype}, not F32`);
    const [start, end] = entry.data_offsets;
    const copy = Buffer.from(data.subarray(start, end));
    tensors.set(name, new Float32Array(copy.buffer, copy.byteOffset, (end - start) / 4));
  }
  return tensors;
}

export function maxAbsDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if ([...a.keys()].sort().join() !== [...b.keys()].sort().join()) throw new Error(`tensor names differ: ${[...a.keys()]} vs ${[...b.keys()]}`);
  let worst = 0;
  for (const [name, values] of a) {
    const other = b.get(name) as Float32Array;
    for (let i = 0; i < values.length; i += 1) worst = Math.max(worst, Math.abs(values[i] - other[i]));
  }
  return worst;
}

export async function finished(fixture: Fixture, spec: TrainingJobSpecInput, timeoutMs = 180_000): Promise<JobRecord> {
  const job = await fixture.client.submitJob(spec);
  return fixture.client.waitForState(job.id, ['succeeded', 'failed', 'cancelled'], timeoutMs);
}

export const python = () => pythonExecutable();
export { REPO_ROOT };
