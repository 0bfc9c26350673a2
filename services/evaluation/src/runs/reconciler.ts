import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { ShardSupervisor } from './shard-supervisor';

/** Visits every unfinished evaluation at boot and then periodically (see `ShardSupervisor.reconcile`). */
@Injectable()
export class EvaluationReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EvaluationReconciler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly supervisor: ShardSupervisor,
    @Inject(EVALUATION_CONFIG) private readonly config: EvaluationConfig,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running ??= this.pass().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.config.HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      for (const id of await this.supervisor.activeIds()) {
        await this.supervisor.reconcile(id).catch((error: unknown) => this.logger.warn(`reconciling ${id}: ${String(error)}`));
      }
    } catch (error) {
      this.logger.warn(`reconciliation pass failed: ${String(error)}`);
    }
  }
}
