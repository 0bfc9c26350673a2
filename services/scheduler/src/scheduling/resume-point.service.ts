import { Inject, Injectable, Logger } from '@nestjs/common';
import { CheckpointRecord, isTrainingSpec, JobRecord, SCHEMA_VERSION, SERVICE_RPCS } from '@hounsfield/contracts';
import { NatsClient, requestRpc, RpcFailure } from '@hounsfield/messaging';

/** Long enough for the assignment to be acked and the worker to download the checkpoint. */
const PIN_SECONDS = 3600;
const RESOLVE_TIMEOUT_MS = 5000;

/** Where an attempt starts: from a committed checkpoint, fresh, not yet (ask again later), or never. */
export type ResumePoint =
  | { kind: 'resume'; checkpoint: CheckpointRecord }
  | { kind: 'fresh'; note?: string }
  | { kind: 'wait'; reason: string }
  | { kind: 'fail'; reason: string };

type Lookup = { found: CheckpointRecord } | { missing: string } | { invalid: string } | { unavailable: string };

/**
 * Asks the checkpoints service where an attempt resumes. A restart (attempt > 1) continues from
 * the job's latest committed checkpoint; a first attempt from `spec.checkpoint.resumeFrom` when the
 * spec names one. The service pins the answer, so retention keeps it until the worker fetched it.
 */
@Injectable()
export class ResumePointService {
  private readonly logger = new Logger(ResumePointService.name);

  constructor(@Inject(NatsClient) private readonly nats: NatsClient) {}

  async resumePoint(job: JobRecord): Promise<ResumePoint> {
    const named = isTrainingSpec(job.spec) ? job.spec.checkpoint.resumeFrom : undefined;
    if (job.attempt > 1) {
      const own = await this.lookup(job.id, 'latest');
      if ('found' in own) return { kind: 'resume', checkpoint: own.found };
      if ('unavailable' in own && !named) {
        // Without the service a restart cannot know its checkpoint; blocking every retry on it would be worse.
        this.logger.warn(`job ${job.id}#${job.attempt} restarts without a checkpoint: ${own.unavailable}`);
        return { kind: 'fresh', note: 'the checkpoints service did not answer; started without a checkpoint' };
      }
    }
    if (!named) return { kind: 'fresh' };
    const lookup = await this.lookup(undefined, named);
    if ('found' in lookup) return { kind: 'resume', checkpoint: lookup.found };
    if ('unavailable' in lookup) return { kind: 'wait', reason: `spec.checkpoint.resumeFrom ${named}: ${lookup.unavailable}` };
    const why = 'missing' in lookup ? lookup.missing : lookup.invalid;
    return { kind: 'fail', reason: `spec.checkpoint.resumeFrom ${named} cannot be used: ${why}` };
  }

  /**
   * The checkpoint a fresh start takes its initial weights from (`spec.checkpoint.initFrom`):
   * `none` when the spec names none or the attempt resumes anyway.
   */
  async initPoint(job: JobRecord, resume: ResumePoint): Promise<ResumePoint | { kind: 'none' }> {
    const init = isTrainingSpec(job.spec) ? job.spec.checkpoint.initFrom : undefined;
    if (!init || resume.kind === 'resume') return { kind: 'none' };
    const lookup = await this.lookup(undefined, init.ref);
    if ('found' in lookup) return { kind: 'resume', checkpoint: lookup.found };
    if ('unavailable' in lookup) return { kind: 'wait', reason: `spec.checkpoint.initFrom ${init.ref}: ${lookup.unavailable}` };
    const why = 'missing' in lookup ? lookup.missing : lookup.invalid;
    return { kind: 'fail', reason: `spec.checkpoint.initFrom ${init.ref} cannot be used: ${why}` };
  }

  private async lookup(jobId: string | undefined, ref: string): Promise<Lookup> {
    try {
      const request = { v: SCHEMA_VERSION, ref, pinSeconds: PIN_SECONDS, ...(jobId ? { jobId } : {}) };
      return { found: await requestRpc(this.nats.nc, SERVICE_RPCS.checkpointsResolve, request, RESOLVE_TIMEOUT_MS) };
    } catch (error) {
      if (!(error instanceof RpcFailure)) return { unavailable: String(error) };
      if (error.error.code === 'not_found') return { missing: error.error.message };
      if (error.error.code === 'invalid_request') return { invalid: error.error.message };
      return { unavailable: error.error.message };
    }
  }
}
