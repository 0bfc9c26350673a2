import { Inject, Injectable, Logger } from '@nestjs/common';
import { EvaluationRecord, FailureKind, JobRecord, JobState } from '@hounsfield/contracts';
import { SchedulerClient } from '../clients/platform.clients';
import { EVALUATION_CONFIG, EvaluationConfig } from '../config';
import { CaseQueue } from './case-queue';
import { EvaluationRuns } from './evaluation-runs';
import { EvaluationRepository, PlannedCase } from './evaluation.repository';
import { ShardReports } from './shard-reports';

const TERMINAL_JOB_STATES: JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Repairs what crashes and dead shards leave of unfinished runs (the reconciler calls it for each). */
@Injectable()
export class ShardSupervisor {
  private readonly logger = new Logger(ShardSupervisor.name);

  constructor(
    private readonly repository: EvaluationRepository,
    private readonly runs: EvaluationRuns,
    private readonly shardReports: ShardReports,
    private readonly queue: CaseQueue,
    private readonly scheduler: SchedulerClient,
    @Inject(EVALUATION_CONFIG) private readonly config: EvaluationConfig,
  ) {}
  activeIds(): Promise<string[]> {
    return this.repository.active();
  }

  /**
   * Repairs what a crash or a dead shard left: missing shard jobs are submitted, a complete run
   * is finalized, planned cases with neither a result nor a message are re-queued, and when every
   * shard job has ended with work left, a replacement shard is submitted — unless the shards
   * failed their preflight (another would too) or `HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS`
   * are spent, and then the evaluation fails with the shards' reasons.
   */
  async reconcile(id: string): Promise<void> {
    let record = await this.runs.require(id);
    if (record.status !== 'planning' && record.status !== 'running') return;
    if (record.shardJobs.length < record.spec.shards) {
      const topped = await this.runs.withShardClaim(id, (current) => this.runs.submitShards(current, current.spec.shards));
      // Someone else holds the claim: a submission is in progress; the next pass looks again.
      if (!topped) return;
      record = topped;
    }
    if (record.status === 'running') {
      const total = record.progress.total ?? 0;
      const have = await this.repository.resultIds(id);
      if (have.size >= total) return this.shardReports.finalize(id);
      const outstanding = await this.queue.outstanding(id);
      if (outstanding === undefined) await this.queue.ensureConsumer(id, record.spec.caseTimeoutSeconds);
      if (!outstanding) {
        const missing = (await this.repository.plan(id)).filter((c: PlannedCase) => !have.has(c.caseId));
        this.logger.warn(`evaluation ${id}: re-queueing ${missing.length} case(s) without a result or a message`);
        await this.queue.publish(id, missing);
      }
    }
    const jobs = await Promise.all(record.shardJobs.map((job) => this.scheduler.get(job).catch(() => undefined)));
    if (!jobs.every((job) => job !== undefined && TERMINAL_JOB_STATES.includes(job.state))) return;
    await this.replaceShards(record, jobs as JobRecord[]);
  }

  /** Every shard job of `record` has ended with work left: one more shard, or the run fails. */
  private async replaceShards(record: EvaluationRecord, ended: JobRecord[]): Promise<void> {
    const left = record.status === 'planning' ? 'before planning its cases' : 'with cases left';
    const reasons = shardReasons(ended);
    if (ended.every((job) => failureKindOf(job) === 'preflight')) {
      return this.runs.fail(record, `every shard failed its preflight ${left}: ${reasons}`);
    }
    const replacements = record.shardJobs.length - record.spec.shards;
    if (replacements >= this.config.HOUNSFIELD_EVALUATION_MAX_REPLACEMENT_SHARDS) {
      return this.runs.fail(record, `every shard job ended ${left}, ${replacements} replacement shard(s) included: ${reasons}`);
    }
    await this.runs.withShardClaim(record.id, async (current) => {
      // Only when nothing changed since the states were read (another pass may have added one).
      if (current.shardJobs.length !== record.shardJobs.length || (current.status !== 'planning' && current.status !== 'running')) return current;
      this.logger.warn(`evaluation ${record.id}: every shard job has ended ${left}; submitting replacement ${replacements + 1}`);
      return this.runs.submitShards(current, current.shardJobs.length + 1);
    });
  }
}

/** Whose failure ended `job` (its last transition's), if it failed. */
function failureKindOf(job: JobRecord): FailureKind | undefined {
  return job.state === 'failed' ? job.history.at(-1)?.failureKind : undefined;
}

/** The distinct reasons the shard jobs ended with ("job j-1: preflight: dataset root ... (×2)"). */
function shardReasons(jobs: JobRecord[]): string {
  const counts = new Map<string, number>();
  for (const job of jobs) {
    const reason = job.reason ?? `ended ${job.state}${job.exitCode !== undefined ? ` with exit code ${job.exitCode}` : ''}`;
    const kind = failureKindOf(job);
    const key = kind ? `${kind}: ${reason}` : reason;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([reason, n]) => (n > 1 ? `${reason} (×${n})` : reason)).join('; ');
}
