import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { CodeService } from '../code/code.service';
import { ImportService } from '../imports/import.service';
import { LogStoreService } from '../logs/log-store.service';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { UploadSessionRepository } from '../uploads/upload-session.repository';
import { UploadVerifier } from '../verification/upload-verifier';
import { RetentionService } from './retention.service';

/**
 * Periodic clean-up, so the store holds only committed checkpoints: retired checkpoints whose pins
 * ended, uploads abandoned (or rejected) before a commit, and expired import sources; and attempt
 * logs whose retention ended. Every step is
 * idempotent, so a crash mid-sweep is repaired by the next one, on any replica.
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SweeperService.name);
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly retention: RetentionService,
    private readonly sessions: UploadSessionRepository,
    private readonly imports: ImportService,
    private readonly code: CodeService,
    private readonly verifier: UploadVerifier,
    private readonly logs: LogStoreService,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.HOUNSFIELD_CHECKPOINT_SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One sweep; concurrent calls share the one in progress. */
  sweep(): Promise<void> {
    this.running = this.running.then(() =>
      this.sweepOnce().catch((error: unknown) => this.logger.warn(`sweep failed: ${error instanceof Error ? error.message : String(error)}`)),
    );
    return this.running;
  }

  private async sweepOnce(now = Date.now()): Promise<void> {
    await this.retention.deleteDue(now);
    for (const prefix of await this.sessions.expiredPrefixes(now)) {
      const deleted = await this.store.deletePrefix(prefix);
      await this.sessions.forgetPrefix(prefix);
      if (deleted > 0) this.logger.log(`deleted ${deleted} parts of the uncommitted upload ${prefix}`);
    }
    await this.imports.sweep(now);
    await this.code.sweep(now);
    await this.logs.sweep(now);
    this.verifier.evictIdle(this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS * 1000, now);
  }
}
