import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, serveRpc } from '@hounsfield/messaging';
import type { Subscription } from '@nats-io/nats-core';
import { AlertService } from './alerts/alert.service';
import { SeriesRepository } from './series/series.repository';

const QUEUE_GROUP = 'metrics';

/** The metrics service's request/reply API, used by the gateway: stored series and alerts of a job. */
@Injectable()
export class MetricsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriptions: Subscription[] = [];

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    private readonly series: SeriesRepository,
    private readonly alerts: AlertService,
  ) {}

  onApplicationBootstrap(): void {
    const nc = this.nats.nc;
    this.subscriptions = [
      serveRpc(nc, SERVICE_RPCS.jobMetrics, QUEUE_GROUP, async (request) => ({ jobId: request.jobId, series: await this.series.read(request) })),
      serveRpc(nc, SERVICE_RPCS.jobAlerts, QUEUE_GROUP, (request) => this.alerts.list(request.id)),
    ];
  }

  onApplicationShutdown(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
  }
}
