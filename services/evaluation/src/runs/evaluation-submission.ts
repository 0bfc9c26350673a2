import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { EVALUATION_MODEL_KINDS, EvaluationCheckpoint, evaluationCheckpoints, EvaluationModels, EvaluationRecord, evaluationSpecIssues, evaluationSpecSchema, EvaluationSpec, isTrainingSpec, ResolvedModel } from '@hounsfield/contracts';
import { RpcFailure } from '@hounsfield/messaging';
import { CheckpointsClient, SchedulerClient } from '../clients/platform.clients';
import { evaluationError, EvaluationErrorCode } from '../evaluation.errors';
import { CaseQueue } from './case-queue';
import { EvaluationRuns, now } from './evaluation-runs';
import { EvaluationRepository } from './evaluation.repository';

/** Evaluated checkpoints stay readable (pinned) this long after submission, even if retention drops them. */
const PIN_SECONDS = 7 * 24 * 3600;

/** Submission of evaluation runs: the spec checked, the checkpoints resolved and pinned, the shard jobs submitted. */
@Injectable()
export class EvaluationSubmission {
  constructor(
    private readonly repository: EvaluationRepository,
    private readonly runs: EvaluationRuns,
    private readonly queue: CaseQueue,
    private readonly scheduler: SchedulerClient,
    private readonly checkpoints: CheckpointsClient,
  ) {}
  /** A new evaluation of `input` (validated here), recorded for the API user `owner`. */
  async create(input: unknown, owner?: string): Promise<EvaluationRecord> {
    const parsed = evaluationSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issues = evaluationSpecIssues(parsed.error);
      throw evaluationError(EvaluationErrorCode.Invalid, 'invalid evaluation spec', { issues });
    }
    return this.start(parsed.data, `ev-${randomBytes(6).toString('hex')}`, { owner });
  }

  /**
   * Starts the evaluation `id` of `spec` (checkpoints resolved and pinned, shard jobs submitted).
   * Starting an id that exists returns the stored run (a redelivered auto-evaluation trigger).
   */
  async start(
    spec: EvaluationSpec,
    id: string,
    options: {
      /** The API user it is recorded for (its shard jobs too). */
      owner?: string;
      origin?: EvaluationRecord['origin'];
      /** Shorter pins for checkpoints something else keeps meanwhile (by checkpoint id). */
      pinSecondsOf?: Record<string, number>;
    } = {},
  ): Promise<EvaluationRecord> {
    const { owner, origin, pinSecondsOf = {} } = options;
    const existing = await this.repository.get(id);
    if (existing) return existing;
    const resolved = await Promise.all(evaluationCheckpoints(spec).map(async ([role, wanted]) => [role, await this.resolveModel(spec, role, wanted, pinSecondsOf)] as const));
    const models = Object.fromEntries(resolved) as EvaluationModels;
    const record: EvaluationRecord = {
      id,
      ...(owner !== undefined ? { owner } : {}),
      ...(spec.name ? { name: spec.name } : {}),
      status: 'planning',
      spec,
      models,
      shardJobs: [],
      progress: { total: null, done: 0, etaSeconds: null },
      ...(origin ? { origin } : {}),
      createdAt: now(),
    };
    // The claim is taken before the record exists, so the reconciler never sees a run that is still
    // being set up as one missing its shards (it would submit them a second time).
    const started = await this.runs.underShardClaim(id, async () => {
      if (!(await this.repository.create(record))) return undefined;
      await this.queue.ensureConsumer(record.id, spec.caseTimeoutSeconds);
      return this.runs.submitShards(record, spec.shards);
    });
    return started ?? this.runs.require(id);
  }

  /**
   * The checkpoint of one role, pinned, with its trainer config (the spec's, else the training
   * job's); a training job of another kind than the role needs is refused, naming both.
   */
  private async resolveModel(spec: EvaluationSpec, role: string, wanted: EvaluationCheckpoint, pinSecondsOf: Record<string, number>): Promise<ResolvedModel> {
    const where = `checkpoints.${role}`;
    const expected = EVALUATION_MODEL_KINDS[spec.kind][role];
    const job = await this.scheduler.get(wanted.job).catch((error: unknown) => {
      // A checkpoint whose job the scheduler no longer knows is usable with its config given.
      if (wanted.config !== undefined && error instanceof RpcFailure && error.error.code === 'not_found') return undefined;
      throw this.asSpecProblem(error, `${where}.config`, `job ${wanted.job} is unknown to the scheduler; give the trainer config`);
    });
    if (job && isTrainingSpec(job.spec) && job.spec.kind !== expected) {
      const message = `job ${wanted.job} trained a ${job.spec.kind} model; a ${spec.kind} evaluation needs a ${expected} checkpoint as ${role}`;
      throw evaluationError(EvaluationErrorCode.Invalid, message, { issues: [{ path: `${where}.job`, message }] });
    }
    const checkpoint = await this.checkpoints.resolve(wanted.job, wanted.ref, pinSecondsOf[wanted.ref] ?? PIN_SECONDS).catch((error: unknown) => {
      throw this.asSpecProblem(error, where, `no committed checkpoint ${wanted.job}:${wanted.ref}`);
    });
    let config = wanted.config;
    if (config === undefined) {
      if (!job || !isTrainingSpec(job.spec)) {
        throw evaluationError(EvaluationErrorCode.Invalid, `job ${wanted.job} is a ${job?.spec.kind ?? 'unknown'} task, not a training`, { issues: [{ path: where, message: 'name a training job' }] });
      }
      config = job.spec.config;
    }
    return { jobId: wanted.job, checkpointId: checkpoint.id, step: checkpoint.step, config };
  }

  private asSpecProblem(error: unknown, path: string, message: string): unknown {
    if (error instanceof RpcFailure && error.error.code === 'not_found') {
      return evaluationError(EvaluationErrorCode.Invalid, message, { issues: [{ path, message }] });
    }
    return error;
  }
}
