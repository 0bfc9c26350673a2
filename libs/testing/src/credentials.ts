import { NatsUser, PLATFORM_SERVICES, PlatformService, renderNatsAuthorization, servicePermissions, serviceUser, workerPermissions, workerUser } from '@hounsfield/messaging';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const storedSchema = z
  .object({
    redisPassword: z.string().min(16),
    /** NATS user → password, services and workers alike. */
    nats: z.record(z.string(), z.string().min(16)),
  })
  .strict();

/** The test harness's user (never a service or worker name: those are plain names and worker-<id>). */
const HARNESS_USER = 'test-harness';

const secret = () => randomBytes(24).toString('base64url');

/**
 * The secrets of a local stack, generated on first use and kept (mode 0600) under its data
 * directory, so a restarted `npm start` and remote workers keep working: the Redis password, a
 * NATS user per service and per worker, and the nats-server authorization written from the
 * permission table (libs/messaging/src/nats-permissions.ts).
 */
export class StackCredentials {
  private constructor(
    private readonly dir: string,
    private readonly stored: z.infer<typeof storedSchema>,
  ) {}

  /** Loads `<dir>/credentials.json`, creating the directory (0700) and the secrets when missing. */
  static open(dir: string): StackCredentials {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const file = join(dir, 'credentials.json');
    const stored = existsSync(file)
      ? storedSchema.parse(JSON.parse(readFileSync(file, 'utf8')))
      : { redisPassword: secret(), nats: Object.fromEntries(PLATFORM_SERVICES.map((s) => [serviceUser(s), secret()])) };
    const credentials = new StackCredentials(dir, stored);
    credentials.save();
    return credentials;
  }

  get redisPassword(): string {
    return this.stored.redisPassword;
  }

  /** Where the nats-server authorization is written (`-c` of the server). */
  get natsConfigPath(): string {
    return join(this.dir, 'nats-auth.conf');
  }

  /** The environment a service connects with. */
  serviceEnv(service: PlatformService): NodeJS.ProcessEnv {
    const user = serviceUser(service);
    return { HOUNSFIELD_NATS_USER: user, HOUNSFIELD_NATS_PASSWORD: this.password(user), HOUNSFIELD_REDIS_PASSWORD: this.redisPassword };
  }

  /** The environment a worker connects with; a new worker gets a user (write the config and reload NATS after). */
  workerEnv(workerId: string): NodeJS.ProcessEnv {
    const user = workerUser(workerId);
    return { HOUNSFIELD_NATS_USER: user, HOUNSFIELD_NATS_PASSWORD: this.password(user) };
  }

  /**
   * A user allowed everything, for tests and benchmarks that play several parts at once (the
   * gateway and simulated workers). Only created when asked for; the stack then needs a
   * configuration rewrite before it starts (LocalStack does this with `harness: true`).
   */
  harnessAccess(): { user: string; password: string } {
    return { user: HARNESS_USER, password: this.password(HARNESS_USER) };
  }

  /** True when a worker has no user yet (the server's configuration must then be rewritten). */
  isNewWorker(workerId: string): boolean {
    return this.stored.nats[workerUser(workerId)] === undefined;
  }

  private password(user: string): string {
    this.stored.nats[user] ??= secret();
    this.save();
    return this.stored.nats[user];
  }

  /** Writes the nats-server configuration with every user known so far. */
  writeNatsConfig(): string {
    const users: NatsUser[] = Object.entries(this.stored.nats).map(([user, password]) => ({
      user,
      password,
      permissions:
        user === HARNESS_USER
          ? { publish: ['>'], subscribe: ['>'] }
          : (PLATFORM_SERVICES as readonly string[]).includes(user)
            ? servicePermissions(user as PlatformService)
            : workerPermissions(user.replace(/^worker-/, '')),
    }));
    writeFileSync(this.natsConfigPath, renderNatsAuthorization(users), { mode: 0o600 });
    return this.natsConfigPath;
  }

  private save(): void {
    writeFileSync(join(this.dir, 'credentials.json'), `${JSON.stringify(this.stored, null, 2)}\n`, { mode: 0o600 });
  }
}
