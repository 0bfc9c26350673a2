import { Inject, Injectable, Logger } from '@nestjs/common';
import { AlertEvent, alertEventSchema, JobMetrics, jobMetricsSchema, MetricSeriesRequest, RPC } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';
import { z } from 'zod';

/** How long a job view waits for its alerts; without an answer the job is shown without them. */
const ALERTS_TIMEOUT_MS = 2000;

/** The metrics service's request/reply API, seen from the gateway. */
@Injectable()
export class MetricsClient {
  private readonly logger = new Logger(MetricsClient.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  series(request: MetricSeriesRequest): Promise<JobMetrics> {
    return requestRpc(this.nats.nc, RPC.jobMetrics, request, jobMetricsSchema);
  }

  /** The job's alerts, or undefined when the metrics service does not answer (the job view still works). */
  async alerts(jobId: string): Promise<AlertEvent[] | undefined> {
    try {
      return await requestRpc(this.nats.nc, RPC.jobAlerts, { id: jobId }, z.array(alertEventSchema), ALERTS_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`alerts of job ${jobId} left out: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}
