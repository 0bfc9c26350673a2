import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { SchedulingMetrics } from '../exposition/scheduling.metrics';

/** Queued jobs read per poll; the queue dashboard shows at most this many pending reasons. */
const QUEUE_PAGE = 1000;

/**
 * Reads from the scheduler what no event carries: the queue with its pending reasons and positions
 * (computed on read), and which job holds which GPU.
 */
@Injectable()
export class SchedulerPoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SchedulerPoller.name);
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    private readonly metrics: SchedulingMetrics,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.HOUNSFIELD_METRICS_SCHEDULER_POLL_SECONDS * 1000;
    this.timer = setInterval(() => void this.poll(), every);
    void this.poll();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    try {
      const [queued, workers] = await Promise.all([
        requestRpc(this.nats.nc, SERVICE_RPCS.listJobs, { state: 'queued', limit: QUEUE_PAGE }, 5000).then((page) => page.jobs),
        requestRpc(this.nats.nc, SERVICE_RPCS.listWorkers, {}, 5000),
      ]);
      this.metrics.setQueue(queued, Date.now());
      this.metrics.setLeases(workers);
      this.metrics.setSchedulerUp(true);
      if (this.failing) this.logger.log('the scheduler answers again');
      this.failing = false;
    } catch (error) {
      this.metrics.setSchedulerUp(false);
      if (!this.failing) this.logger.warn(`cannot read the queue from the scheduler (retrying): ${String(error)}`);
      this.failing = true;
    }
  }
}
