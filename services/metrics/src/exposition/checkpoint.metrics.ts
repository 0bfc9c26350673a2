import { Inject, Injectable } from '@nestjs/common';
import { CheckpointEvent } from '@hounsfield/contracts';
import { PROMETHEUS_REGISTRY } from '@hounsfield/runtime';
import { Counter, Gauge, Registry } from 'prom-client';

/** Checkpoints committed and deleted (by retention), their bytes, and each job's latest checkpoint. */
@Injectable()
export class CheckpointMetrics {
  private readonly count: Counter<'action'>;
  private readonly bytes: Counter<'action'>;
  private readonly lastStep: Gauge<'job_id'>;
  private readonly lastTime: Gauge<'job_id'>;

  constructor(@Inject(PROMETHEUS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.count = new Counter({ name: 'hounsfield_checkpoints_total', help: 'Checkpoints committed, and deleted by retention.', labelNames: ['action'], registers });
    this.bytes = new Counter({ name: 'hounsfield_checkpoint_bytes_total', help: 'Bytes of the checkpoints committed and deleted.', labelNames: ['action'], registers });
    this.lastStep = new Gauge({ name: 'hounsfield_job_last_checkpoint_step', help: 'Step of the job\'s latest committed checkpoint.', labelNames: ['job_id'], registers });
    this.lastTime = new Gauge({ name: 'hounsfield_job_last_checkpoint_timestamp_seconds', help: 'When the job\'s latest checkpoint was committed.', labelNames: ['job_id'], registers });
    for (const action of ['committed', 'deleted']) {
      this.count.inc({ action }, 0);
      this.bytes.inc({ action }, 0);
    }
  }

  observe(event: CheckpointEvent): void {
    this.count.inc({ action: event.action });
    this.bytes.inc({ action: event.action }, event.totalSize);
    if (event.action === 'committed') {
      this.lastStep.set({ job_id: event.jobId }, event.step);
      this.lastTime.set({ job_id: event.jobId }, Date.parse(event.at) / 1000);
    }
  }

  removeJob(jobId: string): void {
    this.lastStep.remove({ job_id: jobId });
    this.lastTime.remove({ job_id: jobId });
  }
}
