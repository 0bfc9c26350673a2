/**
 * Checkpoint transfer benchmark: a 1 GiB checkpoint uploaded and downloaded through the platform
 * path (the worker agent's code: grants, parts verified by the service while they upload, commit,
 * verified download) and with a raw client in the same run, against the S3 test server (moto) and
 * the fs store. Prints throughput, the platform/raw ratio against the faster raw client, and the
 * checkpoints service's resident memory (after boot, and the most it reached during transfers).
 * Each transfer runs BENCH_REPEATS times, platform and raw back to back; the table shows median
 * throughputs, and the median over repeats of platform / best raw of the same repeat, since a
 * shared machine's disk and CPU vary more between minutes than between adjacent transfers.
 *
 *   npm run bench -w services/checkpoints          (BENCH_MIB=256 BENCH_REPEATS=1 for a quicker run)
 *
 * BENCH_DRIVERS=s3 (or fs) benches one store; BENCH_RAW=0 skips the raw clients (a memory-only run).
 */
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION } from '@hounsfield/contracts';
import { LocalStack, pythonExecutable, REPO_ROOT, ServerHandle, startS3Server } from '@hounsfield/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 1024) * MiB;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const DRIVERS = (process.env.BENCH_DRIVERS ?? 's3,fs').split(',').map((d) => d.trim()) as Driver[];
const RAW = process.env.BENCH_RAW !== '0';
const CLIENT = join(REPO_ROOT, 'gpu-workers/bench/checkpoint_transfer_client.py');
const BUCKET = 'bench-checkpoints';
/** BENCH_SERVICE_ENV='{"MALLOC_MMAP_THRESHOLD_":"1048576"}': the service's environment changed, to compare settings. */
const SERVICE_ENV_OVERRIDE = JSON.parse(process.env.BENCH_SERVICE_ENV ?? '{}') as Record<string, string>;
const run = promisify(execFile);

type Driver = 's3' | 'fs';
/** Resident memory of the checkpoint service in MB: after boot, and the most during each direction. */
interface Memory {
  boot: number;
  upload: number;
  download: number;
}

interface Row {
  driver: Driver;
  direction: 'upload' | 'download';
  /** Seconds per repeat. */
  platform: number[];
  raw: Record<string, number[]>;
}

/** A checkpoint directory: meta.json and one SIZE-byte weights file (incompressible bytes). */
function writeCheckpoint(directory: string): string {
  const step = join(directory, 'step-000000001');
  mkdirSync(step, { recursive: true });
  const block = randomBytes(64 * MiB);
  const fd = openSync(join(step, 'model.safetensors'), 'w');
  for (let written = 0; written < SIZE; written += block.length) writeSync(fd, block, 0, Math.min(block.length, SIZE - written));
  closeSync(fd);
  const meta = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    step: 1,
    worldSize: 1,
    metrics: {},
    stateFiles: { model: 'model.safetensors' },
    createdAt: new Date().toISOString(),
  };
  writeFileSync(join(step, 'meta.json'), JSON.stringify(meta));
  return step;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timed(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; id?: string }> {
  const { stdout } = await run(pythonExecutable(), [CLIENT, ...args], { cwd: REPO_ROOT, maxBuffer: 1 << 20, env });
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

/** Resident memory of a process in MB, from /proc (VmRSS now, VmHWM the peak so far). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function benchDriver(driver: Driver, dataDir: string, checkpoint: string, s3: ServerHandle): Promise<{ rows: Row[]; memory: Memory }> {
  const root = join(dataDir, driver, 'objects');
  const storageEnv =
    driver === 'fs'
      ? { HOUNSFIELD_STORAGE_DRIVER: 'fs', HOUNSFIELD_STORAGE_ROOT: root }
      : { HOUNSFIELD_STORAGE_DRIVER: 's3', HOUNSFIELD_S3_ENDPOINT: s3.url, HOUNSFIELD_S3_BUCKET: BUCKET, HOUNSFIELD_S3_ACCESS_KEY: 'bench', HOUNSFIELD_S3_SECRET_KEY: 'bench' };
  const stack = await LocalStack.start({ dataDir: join(dataDir, driver), env: { ...storageEnv, HOUNSFIELD_LOG_LEVEL: 'warn', ...SERVICE_ENV_OVERRIDE }, services: ['checkpoints'], harness: true });
  const access = stack.harnessNats();
  const natsEnv = { ...process.env, HOUNSFIELD_NATS_USER: access.user, HOUNSFIELD_NATS_PASSWORD: access.password };
  try {
    const pid = stack.services.get('checkpoints')?.pid as number;
    await new Promise((r) => setTimeout(r, 2000)); // let boot-time allocations settle
    const boot = memory(pid).rss;
    // The most resident memory while the platform uploads and while it downloads (raw clients excluded).
    const peaks = { upload: boot, download: boot };
    let phase: keyof typeof peaks | undefined;
    const sample = () => {
      if (phase !== undefined) peaks[phase] = Math.max(peaks[phase], memory(pid).rss);
    };
    const sampler = setInterval(sample, 100);
    const file = join(checkpoint, 'model.safetensors');
    const s3Args = ['--endpoint', s3.url, '--bucket', BUCKET, '--key', `raw/${driver}/model.bin`];
    const rawUploads: [string, string[]][] =
      driver === 's3'
        ? [
            ['boto3 upload_file', ['raw-upload-s3', ...s3Args, '--path', file]],
            ['boto3 put_object', ['raw-upload-s3', ...s3Args, '--path', file, '--single']],
          ]
        : [['copy + fsync', ['raw-copy', file, join(root, 'raw', 'model.bin')]]];
    const rawDownloads: [string, string[]][] =
      driver === 's3'
        ? [
            ['boto3 download_file', ['raw-download-s3', ...s3Args, '--out', join(dataDir, `${driver}-raw-1.bin`)]],
            ['boto3 get_object', ['raw-download-s3', ...s3Args, '--out', join(dataDir, `${driver}-raw-2.bin`), '--single']],
          ]
        : [['copy + fsync', ['raw-copy', join(root, 'raw', 'model.bin'), join(dataDir, `${driver}-raw.bin`)]]];

    const times: Record<string, number[]> = {};
    const record = (name: string, seconds: number) => (times[name] ??= []).push(seconds);
    for (let repeat = 0; repeat < REPEATS; repeat += 1) {
      phase = 'upload';
      const upload = await timed(['platform-upload', checkpoint, '--nats', stack.nats.url, '--job', `bench-${driver}`], natsEnv);
      sample();
      phase = undefined;
      record('platform upload', upload.seconds);
      if (RAW) for (const [name, args] of rawUploads) record(`up:${name}`, (await timed(args)).seconds);
      const out = join(dataDir, `${driver}-platform-${repeat}`);
      phase = 'download';
      record('platform download', (await timed(['platform-download', upload.id as string, out, '--nats', stack.nats.url], natsEnv)).seconds);
      sample();
      phase = undefined;
      if (RAW) for (const [name, args] of rawDownloads) record(`down:${name}`, (await timed(args)).seconds);
      rmSync(out, { recursive: true, force: true });
    }
    const raw = (prefix: string) =>
      Object.fromEntries(Object.entries(times).flatMap(([name, values]) => (name.startsWith(prefix) ? [[name.slice(prefix.length), values]] : [])));
    clearInterval(sampler);
    return {
      rows: [
        { driver, direction: 'upload', platform: times['platform upload'], raw: raw('up:') },
        { driver, direction: 'download', platform: times['platform download'], raw: raw('down:') },
      ],
      memory: { boot, ...peaks },
    };
  } finally {
    await stack.stop();
  }
}

function printTable(rows: Row[], memoryByDriver: Record<string, Memory>): void {
  const mbps = (seconds: number) => SIZE / MiB / seconds;
  // Every platform byte is hashed by the worker and twice by the service; on a busy machine that CPU shows.
  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`\ncheckpoint transfer, ${SIZE / MiB} MiB, median of ${REPEATS} (throughput in MiB/s); ${cpus().length} CPUs, load average ${load}\n`);
  console.log('| store | direction | platform | raw client | raw | platform / best raw |');
  console.log('|---|---|---:|---|---:|---:|');
  for (const row of rows) {
    // Per repeat: the faster raw client against the platform, measured minutes apart at most.
    const ratios = row.platform.map((seconds, repeat) => Math.min(...Object.values(row.raw).map((raw) => raw[repeat])) / seconds);
    for (const [index, [name, seconds]] of Object.entries(row.raw).entries()) {
      const first = index === 0;
      console.log(
        `| ${first ? row.driver : ''} | ${first ? row.direction : ''} | ${first ? mbps(median(row.platform)).toFixed(0) : ''} | ${name} | ${mbps(median(seconds)).toFixed(0)} | ${first ? median(ratios).toFixed(2) : ''} |`,
      );
    }
  }
  console.log('\n| store | service RSS after boot (MB) | most during uploads (MB) | most during downloads (MB) | most during transfers (MB) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [driver, m] of Object.entries(memoryByDriver)) {
    console.log(`| ${driver} | ${m.boot.toFixed(0)} | ${m.upload.toFixed(0)} | ${m.download.toFixed(0)} | ${Math.max(m.upload, m.download).toFixed(0)} |`);
  }
}

async function main(): Promise<void> {
  // As deployed (the image precompiles): a service that compiled sources at boot would hold the
  // compiler in memory and its resident size would not be what production runs.
  await run(process.execPath, [join(REPO_ROOT, 'scripts/ts-register.cjs'), '--precompile'], { cwd: REPO_ROOT });
  const dataDir = mkdtempSync(join(tmpdir(), 'hf-bench-ckpt-'));
  const s3 = await startS3Server();
  try {
    const checkpoint = writeCheckpoint(join(dataDir, 'source'));
    const rows: Row[] = [];
    const memoryByDriver: Record<string, Memory> = {};
    for (const driver of DRIVERS) {
      if (driver !== 's3' && driver !== 'fs') throw new Error(`BENCH_DRIVERS: unknown store ${String(driver)}; use s3, fs or both`);
      const result = await benchDriver(driver, dataDir, checkpoint, s3);
      rows.push(...result.rows);
      memoryByDriver[driver] = result.memory;
      rmSync(join(dataDir, driver), { recursive: true, force: true });
    }
    printTable(rows, memoryByDriver);
  } finally {
    await s3.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
