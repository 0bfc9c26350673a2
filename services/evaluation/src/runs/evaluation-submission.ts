import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { EvaluationRecord, evaluationSpecSchema, EvaluationSpec, isTrainingSpec, ResolvedModel } from '@hounsfield/contracts';
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
      const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
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
    const [diffusion, voxelization] = await Promise.all([
      this.resolveModel(spec, 'diffusion', pinSecondsOf),
      this.resolveModel(spec, 'voxelization', pinSecondsOf),
    ]);
    const record: EvaluationRecord = {
      id,
      ...(owner !== undefined ? { owner } : {}),
      ...(spec.name ? { name: spec.name } : {}),
      status: 'planning',
      spec,
      models: { diffusion, voxelization },
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

  private async resolveModel(spec: EvaluationSpec, kind: 'diffusion' | 'voxelization', pinSecondsOf: Record<string, number>): Promise<ResolvedModel> {
    const wanted = spec.checkpoints[kind];
    const where = `checkpoints.${kind}`;
    const checkpoint = await this.checkpoints.resolve(wanted.job, wanted.ref, pinSecondsOf[wanted.ref] ?? PIN_SECONDS).catch((error: unknown) => {
      throw this.asSpecProblem(error, where, `no committed checkpoint ${wanted.job}:${wanted.ref}`);
    });
    let config = wanted.config;
    if (config === undefined) {
      const job = await this.scheduler.get(wanted.job).catch((error: unknown) => {
        throw this.asSpecProblem(error, `${where}.config`, `job ${wanted.job} is unknown to the scheduler; give the trainer config`);
      });
      if (!isTrainingSpec(job.spec)) {
        throw evaluationError(EvaluationErrorCode.Invalid, `job ${wanted.job} is a ${job.spec.kind} task, not a training`, { issues: [{ path: where, message: 'name a training job' }] });
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
