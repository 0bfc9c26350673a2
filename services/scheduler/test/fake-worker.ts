import {
  Assignment,
  assignmentSchema,
  CONSUMERS,
  EnvironmentEvent,
  GpuInfo,
  jobKindSchema,
  SCHEMA_VERSION,
  StatusEvent,
  STREAMS,
  SUBJECTS,
  workerCancelRequestSchema,
  workerCancelSubject,
  WorkerHeartbeat,
} from '@hounsfield/contracts';
import { decodeJson, encodeJson, NatsClient } from '@hounsfield/messaging';

/** Speaks the worker side of the protocol from a test: heartbeats, assignments, status. */
export class FakeWorker {
  private timer?: NodeJS.Timeout;
  private seq = 0;
  /** Attempts this worker says it runs (from the statuses it sent), as a real agent lists them. */
  readonly running = new Map<string, { jobId: string; attempt: number }>();
  /** Environment keys this worker says it has cached, and the jobs whose environment it builds. */
  readonly environments: string[] = [];
  readonly builds = new Set<string>();
  /** Extra heartbeat fields (a rendezvous address and ports, a topology label). */
  advertise: Partial<WorkerHeartbeat> = {};
  /** Stop requests the scheduler sent this worker (`job:attempt`), when `answerStops` listens. */
  readonly stops: string[] = [];
  private readonly subscriptions: { unsubscribe(): void }[] = [];

  constructor(
    private readonly nats: NatsClient,
    readonly workerId: string,
    private readonly gpuCount: number,
    /** Tests give each scenario its own GPU model so jobs of one scenario never land in another. */
    private readonly gpuName = 'Simulated H100 80GB',
  ) {}

  gpus(): GpuInfo[] {
    return Array.from({ length: this.gpuCount }, (_, index) => ({
      index,
      uuid: `FAKE-${this.workerId}-${index}`,
      name: this.gpuName,
      memoryTotalBytes: 80 * 1024 ** 3,
      memoryUsedBytes: 0,
      utilizationPercent: 0,
      temperatureCelsius: 30,
      foreignProcesses: false,
    }));
  }

  async heartbeat(): Promise<void> {
    this.seq += 1;
    await this.nats.js.publish(
      SUBJECTS.workerHeartbeat(this.workerId),
      encodeJson({
        v: SCHEMA_VERSION,
        type: 'heartbeat',
        workerId: this.workerId,
        hostname: 'test',
        simulated: true,
        gpus: this.gpus(),
        kinds: jobKindSchema.options.map((kind) => ({ kind, version: '1' })),
        running: [...this.running.values()],
        ...(this.environments.length ? { environments: this.environments } : {}),
        ...(this.builds.size ? { environmentBuilds: [...this.builds] } : {}),
        ...this.advertise,
        intervalSeconds: 0.5,
        at: new Date().toISOString(),
      }),
      { msgID: `${this.workerId}:hb:${this.seq}:${Date.now()}` },
    );
  }

  startHeartbeats(intervalMs = 500): void {
    void this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), intervalMs);
  }

  /** Answers the scheduler's stop requests as an agent does, recording each. */
  answerStops(): void {
    const subscription = this.nats.nc.subscribe(workerCancelSubject(this.workerId));
    this.subscriptions.push(subscription);
    void (async () => {
      for await (const msg of subscription) {
        const request = decodeJson(workerCancelRequestSchema, msg.data);
        this.stops.push(`${request.jobId}:${request.attempt}`);
        msg.respond(encodeJson({ ok: true, state: 'stopping' }));
      }
    })();
  }

  stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }

  /** Next assignment for this worker, acknowledged, or undefined after the timeout. */
  async nextAssignment(timeoutMs = 15_000): Promise<Assignment | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const consumer = await this.nats.js.consumers.get(STREAMS.assign, CONSUMERS.worker(this.workerId));
        const msg = await consumer.next({ expires: 1000 });
        if (msg) {
          msg.ack();
          return decodeJson(assignmentSchema, msg.data);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return undefined;
  }

  /** How an environment build (an assignment with phase `environment`) ended. */
  async environment(order: Assignment, outcome: EnvironmentEvent['outcome'], extra: Partial<EnvironmentEvent> = {}): Promise<void> {
    const event: EnvironmentEvent = {
      v: SCHEMA_VERSION,
      type: 'environment',
      jobId: order.jobId,
      attempt: order.attempt,
      workerId: this.workerId,
      buildId: order.assignmentId,
      outcome,
      at: new Date().toISOString(),
      ...extra,
    };
    this.builds.delete(order.jobId);
    await this.nats.js.publish(SUBJECTS.jobEnvironment(order.jobId), encodeJson(event), { msgID: `${event.buildId}:${outcome}` });
  }

  async status(assignment: Assignment, state: StatusEvent['state'], extra: Partial<StatusEvent> = {}): Promise<void> {
    const event: StatusEvent = {
      v: SCHEMA_VERSION,
      type: 'status',
      jobId: assignment.jobId,
      attempt: assignment.attempt,
      workerId: this.workerId,
      state,
      at: new Date().toISOString(),
      ...extra,
    };
    const key = `${assignment.jobId}:${assignment.attempt}`;
    if (state === 'starting' || state === 'running') this.running.set(key, { jobId: assignment.jobId, attempt: assignment.attempt });
    else this.running.delete(key);
    await this.nats.js.publish(SUBJECTS.jobStatus(assignment.jobId), encodeJson(event), {
      msgID: `${assignment.jobId}:${assignment.attempt}:${this.workerId}:${state}`,
    });
  }
}
