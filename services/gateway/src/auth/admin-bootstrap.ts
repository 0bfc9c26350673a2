import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { AuthService } from './auth.service';
import { newTokenSecret } from './token-secret';

/** The first admin's user name. */
export const ADMIN_USER = 'admin';
const SCRAPE_USER = 'prometheus';

/**
 * The first start creates the `admin` user and a token for it, before the gateway listens:
 * `HOUNSFIELD_ADMIN_TOKEN` when the operator chose one (for example from a Kubernetes secret; it is
 * registered on every start if missing), else a new token written to `HOUNSFIELD_ADMIN_TOKEN_FILE`
 * with mode 0600, and the log says where. Later starts leave existing users alone.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly auth: AuthService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureScrapeToken();
    const given = this.config.HOUNSFIELD_ADMIN_TOKEN;
    if (given !== undefined) {
      await this.ensureAdminUser();
      if (await this.auth.registerToken(given, ADMIN_USER, 'HOUNSFIELD_ADMIN_TOKEN')) this.logger.log('registered the admin token from HOUNSFIELD_ADMIN_TOKEN');
      return;
    }
    if (await this.auth.adminExists()) return;
    if (!(await this.auth.claimBootstrap())) return;
    await this.ensureAdminUser();
    const secret = newTokenSecret();
    await this.auth.registerToken(secret, ADMIN_USER, 'first start');
    const path = resolve(this.config.HOUNSFIELD_ADMIN_TOKEN_FILE);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, `${secret}\n`, { mode: 0o600 });
    await chmod(path, 0o600);
    this.logger.log(`first start: created user "${ADMIN_USER}"; its API token is in ${path} (mode 0600). Create other users and tokens with it: see /docs`);
  }

  private async ensureAdminUser(): Promise<void> {
    if (!(await this.auth.userExists(ADMIN_USER))) await this.auth.createUser(ADMIN_USER, 'admin');
  }

  /** Prometheus scrapes /metrics as the read-only `prometheus` user when a scrape token is configured. */
  private async ensureScrapeToken(): Promise<void> {
    const token = this.config.HOUNSFIELD_METRICS_SCRAPE_TOKEN;
    if (token === undefined) return;
    if (!(await this.auth.userExists(SCRAPE_USER))) await this.auth.createUser(SCRAPE_USER, 'viewer');
    await this.auth.registerToken(token, SCRAPE_USER, 'HOUNSFIELD_METRICS_SCRAPE_TOKEN');
  }
}
