import { Inject, Injectable } from '@nestjs/common';
import { isTerminalJobState, JobRecord, jobStateSchema, WorkerView } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobStateRepository, StateChange } from '../jobs/job-state.repository';

const HOUR = 3600;

/**
 * Job lifecycle and queue metrics: jobs per state (from Redis, so every replica and every restart
 * agrees), finished and requeued counts, queue wait and dispatch latency, and what the scheduler
 * says about the queue and GPU leases (polled).
 */
@Injectable()
export class SchedulingMetrics {
  private readonly finished: Counter<'state'>;
  private readonly requeues: Counter;
  private readonly queueWait: Histogram;
  private readonly dispatch: Histogram;
  private readonly queueJobs: Gauge<'queue'>;
  private readonly oldestWait: Gauge<'queue'>;
  private readonly pending: Gauge<'job_id' | 'job_name' | 'gpus' | 'reason'>;
  private readonly position: Gauge<'job_id'>;
  private readonly leases: Gauge<'worker_id' | 'gpu' | 'job_id'>;
  private readonly schedulerUp: Gauge;

  constructor(
    @Inject(PROMETHEUS_REGISTRY) registry: Registry,
    states: JobStateRepository,
  ) {
    const registers = [registry];
    new Gauge({
      name: 'hounsfield_jobs',
      help: 'Jobs in each state; finished jobs count until the metrics service forgets them.',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = new Map<string, number>(jobStateSchema.options.map((s) => [s, 0]));
        for (const job of (await states.all()).values()) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    this.finished = new Counter({ name: 'hounsfield_jobs_finished_total', help: 'Jobs that reached a final state.', labelNames: ['state'], registers });
    this.requeues = new Counter({ name: 'hounsfield_job_requeues_total', help: 'Attempts put back in the queue (failures with restarts left, lost workers, preemption).', registers });
    this.queueWait = new Histogram({
      name: 'hounsfield_job_queue_wait_seconds',
      help: 'Time from queued to assigned, per attempt.',
      buckets: [1, 5, 15, 30, 60, 300, 900, 1800, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR],
      registers,
    });
    this.dispatch = new Histogram({
      name: 'hounsfield_job_dispatch_latency_seconds',
      help: 'Time from assignment to the worker starting the attempt.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.queueJobs = new Gauge({ name: 'hounsfield_queue_jobs', help: 'Queued jobs, per queue (gpu or cpu).', labelNames: ['queue'], registers });
    this.oldestWait = new Gauge({ name: 'hounsfield_queue_oldest_wait_seconds', help: 'How long the oldest queued job has waited, per queue.', labelNames: ['queue'], registers });
    this.pending = new Gauge({ name: 'hounsfield_job_pending_info', help: 'Always 1 per queued job; why it waits, in the scheduler\'s words.', labelNames: ['job_id', 'job_name', 'gpus', 'reason'], registers });
    this.position = new Gauge({ name: 'hounsfield_job_queue_position', help: '1-based position of a queued job (priority, then age).', labelNames: ['job_id'], registers });
    this.leases = new Gauge({ name: 'hounsfield_gpu_lease_info', help: 'Always 1 per leased GPU; the job holding it.', labelNames: ['worker_id', 'gpu', 'job_id'], registers });
    this.schedulerUp = new Gauge({ name: 'hounsfield_scheduler_up', help: '1 when the last poll of the scheduler (queue, leases) succeeded.', registers });
    for (const state of ['succeeded', 'failed', 'cancelled']) this.finished.inc({ state }, 0);
  }

  /** Counts and times the applied state changes. */
  observe(changes: StateChange[]): void {
    for (const { event, applied, previous } of changes) {
      if (!applied) continue;
      const at = Date.parse(event.at);
      const sameAttempt = previous?.attempt === event.attempt ? previous : undefined;
      if (event.state === 'assigned' && sameAttempt?.queuedAt !== undefined) this.queueWait.observe(Math.max(0, at - sameAttempt.queuedAt) / 1000);
      if (event.state === 'starting' && sameAttempt?.assignedAt !== undefined) this.dispatch.observe(Math.max(0, at - sameAttempt.assignedAt) / 1000);
      if (event.state === 'queued' && event.attempt > 1) this.requeues.inc();
      if (isTerminalJobState(event.state)) this.finished.inc({ state: event.state });
    }
  }

  /** Replaces the queue gauges with what the scheduler reports now. */
  setQueue(queued: JobRecord[], nowMs: number): void {
    this.pending.reset();
    this.position.reset();
    const oldest = new Map<string, number>([['gpu', nowMs], ['cpu', nowMs]]);
    const counts = new Map<string, number>([['gpu', 0], ['cpu', 0]]);
    for (const job of queued) {
      const queue = job.spec.resources.gpus > 0 ? 'gpu' : 'cpu';
      counts.set(queue, (counts.get(queue) ?? 0) + 1);
      const since = Date.parse(job.history.at(-1)?.at ?? job.createdAt);
      oldest.set(queue, Math.min(oldest.get(queue) ?? nowMs, since));
      this.pending.set({ job_id: job.id, job_name: job.spec.name, gpus: String(job.spec.resources.gpus), reason: job.pendingReason ?? 'waiting for the next scheduling pass' }, 1);
      if (job.queuePosition !== undefined) this.position.set({ job_id: job.id }, job.queuePosition);
    }
    for (const [queue, count] of counts) {
      this.queueJobs.set({ queue }, count);
      this.oldestWait.set({ queue }, (nowMs - (oldest.get(queue) ?? nowMs)) / 1000);
    }
  }

  setLeases(workers: WorkerView[]): void {
    this.leases.reset();
    for (const worker of workers) {
      for (const gpu of worker.gpus) {
        if (gpu.leasedBy) this.leases.set({ worker_id: worker.workerId, gpu: String(gpu.index), job_id: gpu.leasedBy }, 1);
      }
    }
  }

  setSchedulerUp(up: boolean): void {
    this.schedulerUp.set(up ? 1 : 0);
  }
}
