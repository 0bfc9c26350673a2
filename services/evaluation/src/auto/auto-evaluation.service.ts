import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AUTO_EVALUATION_METRIC_PREFIX,
  CheckpointEvent,
  EvaluationCheckpoint,
  evaluationSpecSchema,
  isTrainingSpec,
  JobRecord,
  TrainingJobSpec,
} from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import { CheckpointsClient, SchedulerClient } from '../clients/platform.clients';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { EvaluationErrorCode } from '../evaluation.errors';
import { EvaluationSubmission } from '../runs/evaluation-submission';
import { AutoEvaluationRepository } from './auto-evaluation.repository';

type TrainingJobRecord = JobRecord & { spec: TrainingJobSpec };

/** The evaluation of one checkpoint has a fixed id, so a redelivered trigger finds it instead of starting another. */
export const autoEvaluationId = (checkpointId: string) => `ev-auto-${checkpointId.replace(/^ck-/, '')}`;

const failedWith = (error: unknown, code: string): error is RpcFailure => error instanceof RpcFailure && error.error.code === code;

/**
 * Auto-evaluation: for every checkpoint committed by a job whose spec asks for it
 * (`spec.evaluation.everyCheckpoints = N`), every N-th is evaluated with the job's partner network
 * on the named subset; the others are marked skipped, so retention that keeps the best by an
 * `eval.` metric stops waiting for them. The verdict reaches the checkpoint when the run ends.
 */
@Injectable()
export class AutoEvaluationService {
  private readonly logger = new Logger(AutoEvaluationService.name);

  constructor(
    private readonly ordinals: AutoEvaluationRepository,
    private readonly evaluations: EvaluationSubmission,
    private readonly scheduler: SchedulerClient,
    private readonly checkpoints: CheckpointsClient,
    @Inject(EVALUATION_CONFIG) private readonly config: EvaluationConfig,
  ) {}

  async onCheckpoint(event: CheckpointEvent): Promise<void> {
    if (event.action !== 'committed') return;
    const record = await this.scheduler.get(event.jobId).catch((error: unknown) => {
      if (failedWith(error, 'not_found')) return undefined;
      throw error;
    });
    // Imports commit checkpoints too; only training jobs ask for auto-evaluation.
    const job: TrainingJobRecord | undefined = record && isTrainingSpec(record.spec) ? { ...record, spec: record.spec } : undefined;
    const auto = job?.spec.evaluation;
    if (!job || !auto) {
      // Retention waits for a verdict only when it keeps the best by an eval. metric.
      if (job?.spec.checkpoint.keepBest?.metric.startsWith(AUTO_EVALUATION_METRIC_PREFIX)) {
        await this.verdict(event, 'skipped', `job ${event.jobId} asks for no auto-evaluation (spec.evaluation)`);
      }
      return;
    }
    const ordinal = await this.ordinals.ordinal(event.jobId, event.checkpointId);
    if (ordinal % auto.everyCheckpoints !== 0) {
      await this.verdict(event, 'skipped', `checkpoint ${ordinal} of the job; every ${auto.everyCheckpoints}-th is evaluated`);
      return;
    }
    const id = autoEvaluationId(event.checkpointId);
    try {
      // A checkpoint awaiting its verdict is kept by retention; a short pin covers the rest.
      const awaited = job.spec.checkpoint.keepBest?.metric.startsWith(AUTO_EVALUATION_METRIC_PREFIX) ?? false;
      const pins = awaited ? { [event.checkpointId]: this.config.HOUNSFIELD_AUTO_EVALUATION_PIN_SECONDS } : {};
      await this.evaluations.start(this.specFor(job, event, auto.partner), id, {
        owner: job.owner,
        origin: { jobId: event.jobId, checkpointId: event.checkpointId },
        pinSecondsOf: pins,
      });
    } catch (error) {
      if (failedWith(error, EvaluationErrorCode.Invalid)) {
        // Nothing a retry would change (a partner checkpoint that does not exist, say): say so on the checkpoint.
        const where = (error.error.issues ?? []).map((i) => `${i.path}: ${i.message}`).join('; ');
        const reason = `auto-evaluation could not start: ${error.error.message}${where ? ` (${where})` : ''}`;
        await this.verdict(event, 'failed', reason);
        this.logger.warn(`job ${event.jobId} checkpoint ${event.checkpointId}: ${reason}`);
        return;
      }
      throw error;
    }
    await this.checkpoints.reportEvaluation({ checkpointId: event.checkpointId, state: 'running', evaluationId: id });
    this.logger.log(`job ${event.jobId} checkpoint ${event.checkpointId} (step ${event.step}, #${ordinal}): auto-evaluation ${id}`);
  }

  private specFor(job: TrainingJobRecord, event: CheckpointEvent, partner: EvaluationCheckpoint) {
    const { everyCheckpoints: _every, partner: _partner, ...options } = job.spec.evaluation!;
    const self: EvaluationCheckpoint = { job: job.id, ref: event.checkpointId, config: job.spec.config };
    return evaluationSpecSchema.parse({
      ...options,
      name: `auto: ${job.spec.name} step ${event.step}`,
      checkpoints: job.spec.kind === 'voxelization' ? { diffusion: partner, voxelization: self } : { diffusion: self, voxelization: partner },
    });
  }

  private async verdict(event: CheckpointEvent, state: 'skipped' | 'failed', reason: string): Promise<void> {
    await this.checkpoints.reportEvaluation({ checkpointId: event.checkpointId, state, reason: reason.slice(0, 2000) }).catch((error: unknown) => {
      // A checkpoint deleted meanwhile needs no verdict.
      if (!failedWith(error, 'not_found')) throw error;
    });
  }
}
