import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CONSUMERS, EvaluationCaseEvent, JobStateEvent, ProgressEvent, STREAMS, SUBJECTS } from '@hounsfield/contracts';
import { BatchConsumer, ensureConsumer, eventsConsumerConfig, NatsClient, Settlement } from '@hounsfield/messaging';
import { AckPolicy, JsMsg } from '@nats-io/jetstream';
import { HealthMonitor } from '../alerts/health-monitor.service';
import { WorkerTelemetry } from '../cluster/worker-telemetry';
import { METRICS_CONFIG, MetricsConfig } from '../config';
import { EvaluationCasesRepository } from '../evaluations/evaluation-cases.repository';
import { CheckpointMetrics } from '../exposition/checkpoint.metrics';
import { EvaluationMetrics } from '../exposition/evaluation.metrics';
import { JobMetrics } from '../exposition/job.metrics';
import { SchedulingMetrics } from '../exposition/scheduling.metrics';
import { Housekeeping } from '../housekeeping';
import { JobContext, unknownJobContext } from '../jobs/job-context';
import { JobContextService } from '../jobs/job-context.service';
import { JobStateRepository } from '../jobs/job-state.repository';
import { SeriesBuffer } from '../series/series.buffer';
import { JobSeriesAppend, SeriesRepository } from '../series/series.repository';
import { decodeEvent, MetricsEvent } from './event-decoder';
import { IngestMetrics } from './ingest.metrics';

const ACK: Settlement = { kind: 'ack' };

/** A batch decoded, before anything of it is stored (see EventsIngestor.prepare). */
interface DecodedBatch {
  settlements: Settlement[];
  events: MetricsEvent[];
  /** Each `evaluation_case` event's stream sequence. */
  caseSeqs: Map<EvaluationCaseEvent, number>;
  series: JobSeriesAppend[];
}

/**
 * The subjects whose events this service uses, told apart before any decoding: the consumer reads
 * the whole EVENTS stream (one wildcard filter is far cheaper for the server than several) and
 * passes over the rest (its own alerts, event types it does not know).
 */
const USED = /^hf\.events\.(?:job\.[^.]+\.(?:progress|status|state)|worker\.[^.]+\.heartbeat|checkpoint\.[^.]+|evaluation\.[^.]+)$/;

/**
 * The metrics service's view of the EVENTS stream (progress, heartbeats, worker status, scheduler
 * state, checkpoints, evaluations), read by one durable consumer in batches. Per batch: unreadable messages are
 * terminated and counted, and the series lines built (`prepare`, while the previous batch still
 * waits on Redis); job contexts are fetched; the Redis writes (job states, stored series) go
 * in two round trips; only then do the gauges and health checks see the events, in stream order. A
 * failed Redis write naks the whole batch before anything in memory changed; a redelivered report
 * is stored once (the series skip what they already hold).
 */
@Injectable()
export class EventsIngestor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventsIngestor.name);
  private consumer?: BatchConsumer<DecodedBatch>;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    private readonly ingest: IngestMetrics,
    private readonly contexts: JobContextService,
    private readonly states: JobStateRepository,
    private readonly series: SeriesRepository,
    private readonly jobs: JobMetrics,
    private readonly checkpoints: CheckpointMetrics,
    private readonly evaluations: EvaluationMetrics,
    private readonly evaluationCases: EvaluationCasesRepository,
    private readonly scheduling: SchedulingMetrics,
    private readonly telemetry: WorkerTelemetry,
    private readonly health: HealthMonitor,
    private readonly housekeeping: Housekeeping,
  ) {}

  /**
   * Messages the server hands out before the oldest is acked: the batch being handled, the next one
   * being prepared meanwhile, and two more arriving (the server's default of 1000 would hold back
   * the batch after next until the first is acked).
   */
  private get maxAckPending(): number {
    return 4 * this.config.HOUNSFIELD_METRICS_BATCH_SIZE;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.replaceOutdatedConsumer();
    await ensureConsumer(this.nats.jsm, STREAMS.events, {
      ...eventsConsumerConfig(CONSUMERS.metrics, [SUBJECTS.eventsAll]),
      ack_policy: AckPolicy.All,
      max_ack_pending: this.maxAckPending,
    });
    this.consumer = new BatchConsumer({
      js: this.nats.js,
      stream: STREAMS.events,
      durable: CONSUMERS.metrics,
      batchSize: this.config.HOUNSFIELD_METRICS_BATCH_SIZE,
      prepare: (messages) => this.prepare(messages),
      handle: (_, batch) => this.handle(batch),
      logger: this.logger,
    });
    this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  /**
   * A durable made by an earlier release (acking each message, several filters) cannot be changed in
   * place, and settling it one ack per batch would leave most messages to be redelivered: replace
   * it. The new one reads the stream again from the start, which is harmless (stored series skip
   * what they hold, job states apply only newer changes).
   */
  private async replaceOutdatedConsumer(): Promise<void> {
    let info;
    try {
      info = await this.nats.jsm.consumers.info(STREAMS.events, CONSUMERS.metrics);
    } catch {
      return; // none yet
    }
    const filters = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : []);
    if (info.config.ack_policy === AckPolicy.All && filters.length === 1 && filters[0] === SUBJECTS.eventsAll) {
      // The ack-pending limit (another batch size, or an earlier release's default) changes in place.
      if (info.config.max_ack_pending !== this.maxAckPending) {
        await this.nats.jsm.consumers.update(STREAMS.events, CONSUMERS.metrics, { max_ack_pending: this.maxAckPending });
      }
      return;
    }
    this.logger.warn(`replacing the ${CONSUMERS.metrics} consumer of an earlier release (ack policy ${info.config.ack_policy}, filters ${filters.join(' ')})`);
    await this.nats.jsm.consumers.delete(STREAMS.events, CONSUMERS.metrics);
  }

  /**
   * The part of a batch that needs nothing stored: decoding and validation (unreadable messages are
   * terminated and counted here, once), and the stored series' lines. Runs while the previous batch
   * still waits on Redis.
   */
  prepare(messages: JsMsg[]): DecodedBatch {
    const settlements: Settlement[] = messages.map(() => ACK);
    const events: MetricsEvent[] = [];
    const caseSeqs = new Map<EvaluationCaseEvent, number>();
    const series = new SeriesBuffer((jobId) => this.series.strideOf(jobId));
    messages.forEach((msg, index) => {
      if (!USED.test(msg.subject)) return;
      const decoded = decodeEvent(msg.data);
      if (decoded.ok) {
        const event = decoded.event;
        events.push(event);
        if (event.type === 'progress') series.add(event);
        else if (event.type === 'evaluation_case') caseSeqs.set(event, msg.seq);
        return;
      }
      this.logger.warn(`terminated ${msg.subject} (seq ${msg.seq}): ${decoded.reason}: ${decoded.detail}`);
      this.ingest.onRejected(decoded.reason);
      settlements[index] = { kind: 'term', reason: `${decoded.reason}: ${decoded.detail}` };
    });
    return { settlements, events, caseSeqs, series: series.drain() };
  }

  async handle(batch: DecodedBatch): Promise<Settlement[]> {
    const { events, caseSeqs } = batch;
    const contexts = await this.contextsFor(events.filter((e): e is ProgressEvent => e.type === 'progress'));
    const changes = await this.states.apply(events.filter((e): e is JobStateEvent => e.type === 'state'));
    this.ingest.onSeriesDropped(await this.series.append(batch.series));
    const caseEvents = [...caseSeqs.keys()];
    const claims = await this.evaluationCases.claim(caseEvents.map((e) => ({ evaluationId: e.evaluationId, caseId: e.caseId, seq: caseSeqs.get(e) as number })));
    const counted = new Set(caseEvents.filter((_, i) => claims[i]));
    this.scheduling.observe(changes);
    for (const change of changes) if (change.applied) this.housekeeping.onJobState(change.event);
    const counts = new Map<string, number>();
    for (const event of events) {
      const pending = this.apply(event, contexts, counted);
      if (pending) await pending;
      counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
    }
    for (const [type, count] of counts) this.ingest.onIngested(type, count);
    return batch.settlements;
  }

  /** Applies one event, in stream order; returns a promise only when there is something to wait for. */
  private apply(event: MetricsEvent, contexts: Map<string, JobContext>, countedCases: Set<EvaluationCaseEvent>): Promise<void> | undefined {
    switch (event.type) {
      case 'progress': {
        const context = contexts.get(event.jobId) as JobContext;
        this.jobs.observe(event, context);
        return this.health.onProgress(event, context);
      }
      case 'heartbeat':
        this.telemetry.record(event, Date.now());
        return this.health.onHeartbeat(event);
      case 'status':
        return this.health.onStatus(event);
      case 'checkpoint':
        this.checkpoints.observe(event);
        return undefined;
      case 'evaluation_planned':
        this.evaluations.onPlanned(event);
        return undefined;
      case 'evaluation_case':
        this.evaluations.onCase(event, countedCases.has(event));
        return undefined;
      case 'evaluation_succeeded':
      case 'evaluation_failed':
        if (event.type === 'evaluation_succeeded' ? this.evaluations.onSucceeded(event) : this.evaluations.onFailed(event)) {
          this.housekeeping.onEvaluationEnded(event.evaluationId, Date.parse(event.at));
        }
        return undefined;
      case 'state':
      case 'alert':
      case 'notice':
        return undefined;
    }
  }

  /**
   * The context of every job with reports in the batch. While the scheduler cannot be asked, a job
   * is watched with default thresholds (the context service asks again after a pause): its reports
   * still count, and a fail-fast stop could not be requested anyway.
   */
  private async contextsFor(reports: ProgressEvent[]): Promise<Map<string, JobContext>> {
    const latest = new Map<string, number>();
    for (const r of reports) latest.set(r.jobId, Math.max(latest.get(r.jobId) ?? 0, r.attempt));
    const contexts = new Map<string, JobContext>();
    const missing: [string, number][] = [];
    for (const [jobId, attempt] of latest) {
      const cached = this.contexts.peek(jobId, attempt);
      if (cached) contexts.set(jobId, cached);
      else missing.push([jobId, attempt]);
    }
    // Nearly always every context is cached: no promise per job then.
    if (missing.length === 0) return contexts;
    await Promise.all(
      missing.map(async ([jobId, attempt]) => {
        try {
          contexts.set(jobId, await this.contexts.get(jobId, attempt));
        } catch {
          // Logged by the context service when the read failed.
          contexts.set(jobId, unknownJobContext(jobId, attempt));
        }
      }),
    );
    return contexts;
  }
}
