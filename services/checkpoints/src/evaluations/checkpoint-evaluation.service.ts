import { Injectable, Logger } from '@nestjs/common';
import { AUTO_EVALUATION_METRIC_PREFIX, CheckpointEvaluationUpdate, CheckpointRecord, CheckpointRetention } from '@hounsfield/contracts';
import { checkpointError, CheckpointErrorCode } from '../checkpoints.errors';
import { CheckpointRepository } from '../registry/checkpoint.repository';
import { RetentionService } from '../retention/retention.service';

/** Whether a job's retention waits for evaluation verdicts (it keeps the best by an `eval.` metric). */
export function retentionAwaitsEvaluation(policy: CheckpointRetention): boolean {
  return policy.keepBest?.metric.startsWith(AUTO_EVALUATION_METRIC_PREFIX) ?? false;
}

/**
 * Auto-evaluation verdicts on checkpoints: the evaluation service says a checkpoint was skipped,
 * is being evaluated, or has its means (attached as `eval.<metric>`), or that its evaluation
 * failed; retention then runs again with the job's policy, since what it keeps may have changed.
 */
@Injectable()
export class CheckpointEvaluationService {
  private readonly logger = new Logger(CheckpointEvaluationService.name);

  constructor(
    private readonly checkpoints: CheckpointRepository,
    private readonly retention: RetentionService,
  ) {}

  async update(request: CheckpointEvaluationUpdate): Promise<CheckpointRecord> {
    const stored = await this.checkpoints.get(request.checkpointId);
    if (stored === undefined) {
      throw checkpointError(CheckpointErrorCode.NotFound, `no checkpoint ${request.checkpointId} (deleted by retention?)`);
    }
    const metrics = request.metrics ?? {};
    const badName = Object.keys(metrics).find((name) => !name.startsWith(AUTO_EVALUATION_METRIC_PREFIX));
    if (badName !== undefined) {
      throw checkpointError(CheckpointErrorCode.Invalid, `metrics.${badName}: evaluation metrics are named ${AUTO_EVALUATION_METRIC_PREFIX}<metric>`);
    }
    const current = stored.record.evaluation;
    // A verdict is final: a late "running" or "skipped" (a redelivered event) does not undo it.
    if ((current?.state === 'succeeded' || current?.state === 'failed') && (request.state === 'running' || request.state === 'skipped')) {
      return stored.record;
    }
    const record: CheckpointRecord = {
      ...stored.record,
      evaluation: {
        state: request.state,
        ...(request.evaluationId ? { evaluationId: request.evaluationId } : {}),
        metrics,
        ...(request.reason ? { reason: request.reason } : {}),
        at: new Date().toISOString(),
      },
    };
    if (!(await this.checkpoints.replaceRecord({ ...stored, record }))) {
      throw checkpointError(CheckpointErrorCode.NotFound, `checkpoint ${request.checkpointId} was deleted meanwhile`);
    }
    this.logger.log(`checkpoint ${record.id} (${record.jobId} step ${record.step}): evaluation ${request.state}${request.evaluationId ? ` (${request.evaluationId})` : ''}`);
    if (request.state !== 'running') await this.retention.reapply(record.jobId);
    return record;
  }
}
