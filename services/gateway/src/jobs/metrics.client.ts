import { Inject, Injectable, Logger } from '@nestjs/common';
import { AlertEvent, JobMetrics, MetricSeriesRequest, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc } from '@hounsfield/messaging';

/** How long a job view waits for its alerts; without an answer the job is shown without them. */
const ALERTS_TIMEOUT_MS = 2000;

/** The metrics service's request/reply API, seen from the gateway. */
@Injectable()
export class MetricsClient {
  private readonly logger = new Logger(MetricsClient.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  series(request: MetricSeriesRequest): Promise<JobMetrics> {
    return requestRpc(this.nats.nc, SERVICE_RPCS.jobMetrics, request);
  }

  /** The job's alerts, or undefined when the metrics service does not answer (the job view still works). */
  async alerts(jobId: string): Promise<AlertEvent[] | undefined> {
    try {
      return await requestRpc(this.nats.nc, SERVICE_RPCS.jobAlerts, { id: jobId }, ALERTS_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`alerts of job ${jobId} left out: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}
