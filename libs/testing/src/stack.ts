import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonExecutable, REPO_ROOT } from './binaries';
import { StackCredentials } from './credentials';
import { assertPortsFree, freePort, waitForPort } from './ports';
import { ManagedProcess, startProcess } from './process';
import { ServerHandle, startNatsServer, startRedisServer } from './servers';

export const SERVICES = ['gateway', 'scheduler', 'checkpoints', 'metrics', 'evaluation'] as const;
export type ServiceName = (typeof SERVICES)[number];

const PORT_VARIABLE: Record<ServiceName, string> = {
  gateway: 'HOUNSFIELD_HTTP_PORT',
  scheduler: 'HOUNSFIELD_SCHEDULER_PORT',
  checkpoints: 'HOUNSFIELD_CHECKPOINTS_PORT',
  metrics: 'HOUNSFIELD_METRICS_PORT',
  evaluation: 'HOUNSFIELD_EVALUATION_PORT',
};

/**
 * V8 flags a service runs with (the same in deploy/compose.yaml, as NODE_OPTIONS). The checkpoint
 * service streams gigabytes through hashes and HTTP, and the chunks it is done with are Buffers
 * whose memory V8 frees only when it collects them: semi-spaces of 1 MiB (instead of up to 16) and
 * a young-generation collection every 8 MiB it hashes (`--expose-gc`, verification/stream-garbage.ts)
 * keep that pile small (services/checkpoints/README.md).
 */
export const SERVICE_NODE_FLAGS: Partial<Record<ServiceName, readonly string[]>> = {
  checkpoints: ['--max-semi-space-size=1', '--expose-gc'],
  // The metrics service parses and drops some 10 KB per event ingested: semi-spaces of 32 MiB
  // scavenge a quarter as often as the default 16 MiB ones, each copying the same live batches,
  // which saves about a tenth of its CPU per event (services/metrics/README.md).
  metrics: ['--max-semi-space-size=32'],
};

/**
 * Environment a service runs with (the same in deploy/compose.yaml). glibc's malloc keeps freed
 * blocks below its mmap threshold for reuse, so a transfer's chunk memory would stay resident after
 * it is freed; 64 KiB chunks and larger get their own mappings, returned to the system when freed.
 */
export const SERVICE_ENV: Partial<Record<ServiceName, Readonly<Record<string, string>>>> = {
  checkpoints: { MALLOC_MMAP_THRESHOLD_: '65536' },
};

export interface StackOptions {
  /** Where logs and server data go. */
  dataDir: string;
  /** Fixed ports (the local stack); free ones when absent (tests). */
  ports?: Partial<Record<ServiceName | 'nats' | 'redis', number>>;
  /** Extra environment for every service and worker (for example short TTLs in tests). */
  env?: NodeJS.ProcessEnv;
  /** Copy service output to this process's stdout. */
  echo?: boolean;
  services?: readonly ServiceName[];
  /** Also create a NATS user allowed everything (`harnessNats`), for tests that play the gateway or workers. */
  harness?: boolean;
}

export interface WorkerOptions {
  workerId: string;
  /** HOUNSFIELD_FAKE_GPUS: simulated GPUs, for example `8` or `8xH100-80GB`. */
  fakeGpus?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * A whole local platform: nats-server, redis-server, the five services as Node processes and any
 * number of Python workers. Used by the end-to-end tests and by `npm start` / `npm run demo`.
 * Security is on as in production: NATS users with per-service and per-worker permissions and a
 * Redis password (generated under `<dataDir>/secrets/`), and the gateway's first admin token in
 * `<dataDir>/admin-token` (mode 0600), which `adminToken` reads.
 */
export class LocalStack {
  readonly services = new Map<ServiceName, ManagedProcess>();
  readonly workers = new Map<string, ManagedProcess>();
  private servicePorts = new Map<ServiceName, number>();

  private constructor(
    private readonly options: StackOptions,
    private natsServer: ServerHandle,
    private redisServer: ServerHandle,
    readonly credentials: StackCredentials,
  ) {}

  static async start(options: StackOptions): Promise<LocalStack> {
    // Fixed ports are checked before anything starts: a port someone else holds would otherwise
    // answer the readiness probe of the service that failed to bind it.
    await assertPortsFree(
      Object.entries(options.ports ?? {}).flatMap(([name, port]) =>
        port === undefined ? [] : [{ port, variable: name in PORT_VARIABLE ? PORT_VARIABLE[name as ServiceName] : `HOUNSFIELD_${name.toUpperCase()}_PORT` }],
      ),
    );
    const credentials = StackCredentials.open(join(options.dataDir, 'secrets'));
    if (options.harness) credentials.harnessAccess();
    const configFile = credentials.writeNatsConfig();
    const nats = await startNatsServer({ port: options.ports?.nats, dataDir: join(options.dataDir, 'nats'), configFile });
    const redis = await startRedisServer({
      port: options.ports?.redis,
      dataDir: join(options.dataDir, 'redis'),
      persistent: true,
      password: credentials.redisPassword,
    }).catch(async (error: unknown) => {
      await nats.stop();
      throw error;
    });
    const stack = new LocalStack(options, nats, redis, credentials);
    try {
      for (const name of options.services ?? SERVICES) await stack.startService(name);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  get nats(): ServerHandle {
    return this.natsServer;
  }

  get redis(): ServerHandle {
    return this.redisServer;
  }

  /**
   * Kills nats-server or redis-server with SIGKILL and starts it again on the same port with the
   * same data (JetStream store, append-only file), as a supervisor would: for chaos runs.
   */
  async killAndRestartServer(kind: 'nats' | 'redis'): Promise<void> {
    if (kind === 'nats') {
      await this.natsServer.process.kill();
      const configFile = this.credentials.writeNatsConfig();
      this.natsServer = await startNatsServer({ port: this.natsServer.port, dataDir: this.natsServer.dataDir, configFile });
    } else {
      await this.redisServer.process.kill();
      this.redisServer = await startRedisServer({ port: this.redisServer.port, dataDir: this.redisServer.dataDir, persistent: true, password: this.credentials.redisPassword });
    }
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.servicePorts.get('gateway')}`;
  }

  /** Connection options of the harness user (`harness: true`): NatsClient.connect({ ...stack.harnessNats(), name }). */
  harnessNats(): { url: string; user: string; password: string } {
    if (!this.options.harness) throw new Error('start the stack with harness: true to connect to its NATS from a test');
    return { url: this.nats.url, ...this.credentials.harnessAccess() };
  }

  /** Where the gateway writes the admin token on its first start. */
  get adminTokenFile(): string {
    return join(this.options.dataDir, 'admin-token');
  }

  /** The first admin's API token (the gateway wrote it on its first start). */
  get adminToken(): string {
    if (!existsSync(this.adminTokenFile)) {
      throw new Error(
        `${this.adminTokenFile} is missing: the gateway writes it on the first start of an empty Redis; set HOUNSFIELD_ADMIN_TOKEN to register a token of your choice instead`,
      );
    }
    return readFileSync(this.adminTokenFile, 'utf8').trim();
  }

  portOf(name: ServiceName): number | undefined {
    return this.servicePorts.get(name);
  }

  /**
   * Environment every platform process shares. The embedded object store lives under the data
   * directory (HOUNSFIELD_HOME for `npm start`) unless the environment names another store, so a
   * stack writes nothing outside it.
   */
  baseEnv(): NodeJS.ProcessEnv {
    const given = { ...process.env, ...this.options.env };
    const ownStore = !given.HOUNSFIELD_STORAGE_ROOT && (given.HOUNSFIELD_STORAGE_DRIVER ?? 'fs') === 'fs';
    return {
      ...process.env,
      ...(ownStore ? { HOUNSFIELD_STORAGE_ROOT: join(this.options.dataDir, 'objects') } : {}),
      HOUNSFIELD_NATS_URL: this.nats.url,
      HOUNSFIELD_REDIS_URL: this.redis.url,
      ...this.options.env,
    };
  }

  /** Starts (or restarts) a service and waits until its HTTP port answers. */
  async startService(name: ServiceName): Promise<ManagedProcess> {
    const port = this.servicePorts.get(name) ?? this.options.ports?.[name] ?? (await freePort());
    this.servicePorts.set(name, port);
    const proc = startProcess({
      name,
      command: process.execPath,
      // Compiled once into a cache and run without a compiler in the process (scripts/ts-register.cjs).
      args: [...(SERVICE_NODE_FLAGS[name] ?? []), '-r', join(REPO_ROOT, 'scripts/ts-register.cjs'), join(REPO_ROOT, 'services', name, 'src/main.ts')],
      cwd: REPO_ROOT,
      env: {
        ...SERVICE_ENV[name],
        ...this.baseEnv(),
        ...this.credentials.serviceEnv(name),
        ...(name === 'gateway' ? { HOUNSFIELD_ADMIN_TOKEN_FILE: this.adminTokenFile } : {}),
        [PORT_VARIABLE[name]]: String(port),
      },
      logPath: join(this.options.dataDir, 'logs', `${name}.log`),
      echo: this.options.echo,
    });
    this.services.set(name, proc);
    await Promise.race([
      waitForPort(port, 60_000, name),
      proc.wait().then((code) => {
        throw new Error(`${name} exited with code ${code}; see ${proc.logPath}`);
      }),
    ]);
    return proc;
  }

  /**
   * Starts a Python worker agent (`python -m hounsfield.worker`) with its own NATS user; a new
   * worker's user is added to the server's configuration, which is reloaded (the agent retries
   * its connection until the reload has happened).
   */
  startWorker(options: WorkerOptions): ManagedProcess {
    const isNew = this.credentials.isNewWorker(options.workerId);
    const credentials = this.credentials.workerEnv(options.workerId);
    if (isNew) {
      this.credentials.writeNatsConfig();
      this.nats.process.child.kill('SIGHUP');
    }
    return this.spawnWorker(options, credentials);
  }

  private spawnWorker(options: WorkerOptions, credentials: NodeJS.ProcessEnv): ManagedProcess {
    // Node services speak Nest's log levels; the Python agent speaks logging's.
    const nestLevel = this.baseEnv().HOUNSFIELD_LOG_LEVEL ?? 'log';
    const pythonLevel = { error: 'ERROR', warn: 'WARNING', log: 'INFO', debug: 'DEBUG', verbose: 'DEBUG' }[nestLevel] ?? 'INFO';
    const proc = startProcess({
      name: `worker-${options.workerId}`,
      command: pythonExecutable(),
      args: ['-m', 'hounsfield.worker'],
      cwd: REPO_ROOT,
      env: {
        ...this.baseEnv(),
        ...credentials,
        HOUNSFIELD_LOG_LEVEL: pythonLevel,
        HOUNSFIELD_WORKER_ID: options.workerId,
        HOUNSFIELD_WORK_DIR: join(this.options.dataDir, 'workers', options.workerId),
        ...(options.fakeGpus ? { HOUNSFIELD_FAKE_GPUS: options.fakeGpus } : {}),
        ...options.env,
      },
      logPath: join(this.options.dataDir, 'logs', `worker-${options.workerId}.log`),
      echo: this.options.echo,
    });
    this.workers.set(options.workerId, proc);
    return proc;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop(10_000)));
    await Promise.all([...this.services.values()].map((s) => s.stop()));
    await this.nats.stop();
    await this.redis.stop();
  }
}
