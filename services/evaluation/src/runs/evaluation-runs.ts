import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { EvaluationRecord } from '@hounsfield/contracts';
import { CheckpointsClient, SchedulerClient } from '../clients/platform.clients';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { CaseQueue } from './case-queue';
import { EvaluationEventsPublisher } from './evaluation-events.publisher';
import { EvaluationRepository } from './evaluation.repository';
import { shardJobSpec } from './shard-job';

/** Timestamps of evaluation records. */
export const now = () => new Date().toISOString();
/** How long one submitter may hold a run's shard claim (submitting a few shard jobs takes well under a second). */
export const SHARD_CLAIM_MS = 120_000;

/**
 * What the submission, the shards' reports and the supervisor share of a run: reading it (a
 * missing run or case is a `not_found` / `invalid` problem), submitting its shard jobs under the
 * run's shard claim, and closing it as failed.
 */
@Injectable()
export class EvaluationRuns {
  private readonly logger = new Logger(EvaluationRuns.name);

  constructor(
    private readonly repository: EvaluationRepository,
    private readonly queue: CaseQueue,
    private readonly scheduler: SchedulerClient,
    private readonly checkpoints: CheckpointsClient,
    private readonly events: EvaluationEventsPublisher,
  ) {}
  async require(id: string): Promise<EvaluationRecord> {
    const record = await this.repository.get(id);
    if (!record) throw evaluationError(EvaluationErrorCode.NotFound, `no evaluation ${id}`);
    return record;
  }

  async requireCase(id: string, caseId: string): Promise<EvaluationRecord> {
    const record = await this.require(id);
    if (!(await this.repository.planned(id, caseId))) {
      throw evaluationError(EvaluationErrorCode.Invalid, `case ${caseId} is not planned in evaluation ${id}`);
    }
    return record;
  }

  /** Submits shard jobs until the record has `count` (after a crash, the missing ones). */
  async submitShards(record: EvaluationRecord, count: number): Promise<EvaluationRecord> {
    while (record.shardJobs.length < count) {
      const job = await this.scheduler.submit(shardJobSpec(record.id, record.spec, record.shardJobs.length), record.owner);
      record = { ...record, shardJobs: [...record.shardJobs, job.id] };
      await this.repository.save(record);
    }
    return record;
  }

  /**
   * Runs `work` on a fresh read of the record while holding the run's shard claim; undefined when
   * someone else holds it (a submission in progress, or another reconciler).
   */
  /**
   * Runs `work` while holding the run's shard claim; undefined when someone else holds it (a
   * submission in progress, or another reconciler). The claim does not need the record to exist.
   */
  async underShardClaim<T>(id: string, work: () => Promise<T>): Promise<T | undefined> {
    const token = randomBytes(8).toString('hex');
    if (!(await this.repository.claimShards(id, token, SHARD_CLAIM_MS))) return undefined;
    try {
      return await work();
    } finally {
      await this.repository.releaseShards(id, token);
    }
  }

  /** `underShardClaim` on a fresh read of the record. */
  withShardClaim(id: string, work: (record: EvaluationRecord) => Promise<EvaluationRecord>): Promise<EvaluationRecord | undefined> {
    return this.underShardClaim(id, async () => work(await this.require(id)));
  }

  /** Ends the run `failed` with `reason` (on its checkpoint too, for an auto-evaluation). */
  async fail(record: EvaluationRecord, reason: string): Promise<void> {
    this.logger.warn(`evaluation ${record.id} failed: ${reason}`);
    await this.reportToCheckpoint(record, { state: 'failed', reason }).catch((error: unknown) =>
      this.logger.warn(`evaluation ${record.id}: the failure was not reported on checkpoint ${record.origin?.checkpointId}: ${String(error)}`),
    );
    await this.repository.save({ ...record, status: 'failed', error: reason.slice(0, 4000), finishedAt: now() });
    await this.events.failed(record, reason);
    await this.queue.remove(record.id);
  }

  /** An auto-evaluation's verdict, on the checkpoint it evaluates (nothing for other evaluations). */
  async reportToCheckpoint(record: EvaluationRecord, verdict: { state: 'succeeded' | 'failed'; metrics?: Record<string, number>; reason?: string }) {
    if (!record.origin) return;
    await this.checkpoints.reportEvaluation({ checkpointId: record.origin.checkpointId, evaluationId: record.id, ...verdict });
  }
}
