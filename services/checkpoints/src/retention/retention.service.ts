import { Inject, Injectable, Logger } from '@nestjs/common';
import { CheckpointRetention } from '@hounsfield/contracts';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { CheckpointEventsPublisher } from '../registry/checkpoint-events.publisher';
import { CheckpointRepository } from '../registry/checkpoint.repository';
import { awaitingEvaluation, checkpointMetrics, checkpointsToKeep } from './retention-policy';

/**
 * Applies a job's retention after each commit and deletes retired checkpoints' bytes once no pin
 * protects them. Retiring (leaving the job's index) is atomic in Redis; deleting bytes follows,
 * and anything a crash leaves in the trash is deleted by the next sweep.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger(RetentionService.name);

  constructor(
    private readonly checkpoints: CheckpointRepository,
    private readonly events: CheckpointEventsPublisher,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
  ) {}

  /** Retires what the policy does not keep, then deletes whatever is due. Returns the retired ids. */
  async enforce(jobId: string, policy: CheckpointRetention): Promise<string[]> {
    await this.checkpoints.savePolicy(jobId, policy);
    const committed = await this.checkpoints.committed(jobId);
    const keep = checkpointsToKeep(
      committed.map((c) => ({
        id: c.record.id,
        step: c.record.step,
        member: c.member,
        metrics: checkpointMetrics(c.record),
        awaiting: awaitingEvaluation(c.record),
      })),
      policy,
    );
    const retired = await this.checkpoints.retire(
      jobId,
      committed.filter((c) => !keep.has(c.record.id)).map((c) => c.member),
    );
    await this.deleteDue();
    return retired;
  }

  /** Applies the job's policy as last committed (after an evaluation verdict changed what it keeps). */
  async reapply(jobId: string): Promise<string[]> {
    const policy = await this.checkpoints.policy(jobId);
    return policy === undefined ? [] : this.enforce(jobId, policy);
  }

  /** Deletes the bytes of every trashed checkpoint whose pins have ended. */
  async deleteDue(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const ids = await this.checkpoints.dueForDeletion(now);
      if (ids.length === 0) return deleted;
      for (const id of ids) {
        const stored = await this.checkpoints.get(id);
        if (stored !== undefined) {
          await this.store.deletePrefix(stored.prefix);
          await this.events.publish('deleted', stored.record);
          this.logger.log(`checkpoint ${id} (${stored.record.jobId} step ${stored.record.step}) deleted by retention`);
        }
        await this.checkpoints.forget(id);
        deleted += 1;
      }
    }
  }
}
