import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AccessGrant,
  CheckpointCommitRequest,
  CheckpointPartRequest,
  CheckpointPartUploaded,
  CheckpointRecord,
  CheckpointUploadRequest,
  CheckpointUploadSession,
} from '@hounsfield/contracts';
import { randomBytes, randomUUID } from 'node:crypto';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig, MiB } from '../config';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { toGrant } from '../queries/grants';
import { retentionAwaitsEvaluation } from '../evaluations/checkpoint-evaluation.service';
import { CheckpointEventsPublisher } from '../registry/checkpoint-events.publisher';
import { JobOwnersClient } from '../registry/job-owners.client';
import { CheckpointRepository, orderMember, StoredCheckpoint } from '../registry/checkpoint.repository';
import { partCount, partKey, uploadPrefix } from '../registry/storage-keys';
import { RetentionService } from '../retention/retention.service';
import { UploadVerifier } from '../verification/upload-verifier';
import { describeProblems, VerificationProblem } from '../verification/verification-problem';
import { readUploadMeta } from './checkpoint-meta.reader';
import { StoredUpload, UploadSessionRepository } from './upload-session.repository';

/** A verifier silent this long has crashed; another may take its commit over. */
const STALE_VERIFICATION_MS = 30 * 60 * 1000;

/**
 * The upload protocol: begin (announce files), a grant per part, "part uploaded" (verified at
 * once), commit (the rest verified, meta.json read from the store, the checkpoint registered,
 * retention applied). Nothing is visible before the commit succeeds; a rejected upload's parts
 * are deleted and the job's previous latest stays.
 */
@Injectable()
export class UploadService {
  private readonly logger = new Logger(UploadService.name);

  constructor(
    private readonly sessions: UploadSessionRepository,
    private readonly checkpoints: CheckpointRepository,
    private readonly verifier: UploadVerifier,
    private readonly retention: RetentionService,
    private readonly events: CheckpointEventsPublisher,
    private readonly owners: JobOwnersClient,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  async begin(request: CheckpointUploadRequest): Promise<CheckpointUploadSession> {
    const uploadId = `ck-${randomBytes(12).toString('hex')}`;
    const partSize = this.config.HOUNSFIELD_CHECKPOINT_PART_MIB * MiB;
    const session: CheckpointUploadSession = {
      uploadId,
      jobId: request.jobId,
      attempt: request.attempt,
      step: request.step,
      partSize,
      expiresAt: new Date(Date.now() + this.config.HOUNSFIELD_CHECKPOINT_UPLOAD_TTL_SECONDS * 1000).toISOString(),
      files: request.files.map((f) => ({ ...f, parts: partCount(f.size, partSize) })),
    };
    await this.sessions.create(session, uploadPrefix(request.jobId, request.step, uploadId));
    return session;
  }

  /** Where the worker writes one part (a presigned PUT URL, or a path on the shared filesystem). */
  async partGrant(request: CheckpointPartRequest): Promise<AccessGrant> {
    const upload = await this.openUpload(request.id);
    this.assertPart(upload, request.file, request.part);
    try {
      return toGrant(await this.store.presignPut(partKey(upload.prefix, request.file, request.part), this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS));
    } catch (error) {
      throw fromStorageError(error, `grant for ${request.file} part ${request.part}`);
    }
  }

  /** Reads a part the worker just stored; a missing or short part is reported so the worker can upload it again. */
  async partUploaded(request: CheckpointPartUploaded): Promise<{ file: string; part: number; verified: true }> {
    const upload = await this.openUpload(request.uploadId);
    this.assertPart(upload, request.file, request.part);
    let problem: VerificationProblem | undefined;
    try {
      problem = await this.verifier.verifyPart(upload.session, upload.prefix, request.file, request.part, request.size);
    } catch (error) {
      throw fromStorageError(error, `verifying ${request.file} part ${request.part}`);
    }
    if (problem !== undefined) throw checkpointError(CheckpointErrorCode.Invalid, problem.message, { problems: [problem] });
    return { file: request.file, part: request.part, verified: true };
  }

  async commit(request: CheckpointCommitRequest): Promise<CheckpointRecord> {
    const upload = await this.sessions.get(request.uploadId);
    // An expired upload's parts may already be swept away; only a finished commit is still answered.
    if (upload === undefined || (upload.state !== 'committed' && Date.parse(upload.session.expiresAt) < Date.now())) {
      throw checkpointError(CheckpointErrorCode.NotFound, `upload ${request.uploadId} is unknown or expired; begin a new upload`);
    }
    if (upload.state !== 'committed') await this.fence(upload);
    const token = randomUUID();
    const claim = await this.sessions.claim(request.uploadId, token, STALE_VERIFICATION_MS);
    if (claim === 'committed') return this.committedRecord(request.uploadId);
    if (claim !== 'claimed') throw this.notCommittable(request.uploadId, claim, upload.reason);

    let outcome: { stored: StoredCheckpoint } | { problems: VerificationProblem[] };
    try {
      outcome = await this.verified(upload, request);
    } catch (error) {
      // The store or Redis failed, not the upload: let the worker retry the commit.
      await this.sessions.release(request.uploadId, token, 'open');
      throw fromStorageError(error, `verifying upload ${request.uploadId}`);
    }
    if ('problems' in outcome) return this.reject(upload, token, outcome.problems);

    const committed = await this.checkpoints.commit(outcome.stored, token, { hash: this.sessions.hashKey(request.uploadId), open: this.sessions.openKey() });
    this.verifier.forget(request.uploadId);
    if (committed.kind === 'lost') {
      throw checkpointError(CheckpointErrorCode.Conflict, `upload ${request.uploadId} was taken over by another verifier; commit again to learn its outcome`);
    }
    const { record } = outcome.stored;
    this.logger.log(`checkpoint ${record.id} committed: ${record.jobId} attempt ${record.attempt} step ${record.step} (${record.totalSize} bytes)`);
    await this.events.publish('committed', record);
    await this.afterCommit(record.jobId, request);
    return record;
  }

  /**
   * Fencing: a checkpoint of an attempt the scheduler has moved past (its worker was cut off past
   * the reconnect window and the job was requeued) is refused, so the job's latest checkpoint
   * stays the current attempt's. The refusal is also published on the job as a notice.
   */
  private async fence(upload: StoredUpload): Promise<void> {
    const { jobId, attempt, step } = upload.session;
    const current = await this.owners.currentAttempt(jobId);
    if (current === undefined || current.attempt <= attempt) return;
    const message = `checkpoint step ${step} of attempt ${attempt} refused: attempt ${attempt} is no longer the job's current one (attempt ${current.attempt} is, ${current.state})`;
    this.logger.warn(`job ${jobId}: ${message}`);
    await this.events.notice(jobId, attempt, 'checkpoint_refused', message, { step, currentAttempt: current.attempt });
    throw checkpointError(CheckpointErrorCode.Invalid, message, { currentAttempt: current.attempt });
  }

  private async verified(upload: StoredUpload, request: CheckpointCommitRequest): Promise<{ stored: StoredCheckpoint } | { problems: VerificationProblem[] }> {
    const { session, prefix } = upload;
    const problems = await this.verifier.verify(session, prefix, request.manifest);
    if (problems.length > 0) return { problems };
    const read = await readUploadMeta(this.store, session, prefix, request.manifest.files.map((f) => f.name));
    if ('problem' in read) return { problems: [read.problem] };
    const owner = await this.owners.ownerOf(session.jobId);
    const record: CheckpointRecord = {
      id: session.uploadId,
      jobId: session.jobId,
      ...(owner !== undefined ? { owner } : {}),
      attempt: session.attempt,
      step: session.step,
      ...(read.meta.epoch !== undefined ? { epoch: read.meta.epoch } : {}),
      committedAt: new Date().toISOString(),
      totalSize: request.manifest.files.reduce((sum, f) => sum + f.size, 0),
      files: request.manifest.files,
      meta: read.meta,
      // Retention that keeps the best by an evaluation metric keeps each checkpoint until its verdict.
      ...(retentionAwaitsEvaluation(request.retention) ? { evaluation: { state: 'awaiting' as const, metrics: {}, at: new Date().toISOString() } } : {}),
    };
    return { stored: { record, member: orderMember(session.attempt, session.step, session.uploadId), prefix } };
  }

  private async reject(upload: StoredUpload, token: string, problems: VerificationProblem[]): Promise<never> {
    const id = upload.session.uploadId;
    const reason = describeProblems(problems);
    await this.sessions.release(id, token, 'rejected', reason);
    this.verifier.forget(id);
    // The bytes go now; if that fails, the sweep deletes them.
    await this.sessions.expireNow(upload.prefix);
    await this.store
      .deletePrefix(upload.prefix)
      .then(() => this.sessions.forgetPrefix(upload.prefix))
      .catch((error: unknown) => this.logger.warn(`rejected upload ${id}: parts not deleted yet (${String(error)})`));
    this.logger.warn(`checkpoint upload ${id} (${upload.session.jobId} step ${upload.session.step}) rejected: ${reason}`);
    throw checkpointError(CheckpointErrorCode.Invalid, `checkpoint upload ${id} rejected: ${reason}`, { problems });
  }

  /** Retention runs after the commit succeeded; its failure is logged and retried by the next commit or sweep. */
  private async afterCommit(jobId: string, request: CheckpointCommitRequest): Promise<void> {
    try {
      await this.retention.enforce(jobId, request.retention);
    } catch (error) {
      this.logger.error(`retention for ${jobId} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async committedRecord(id: string): Promise<CheckpointRecord> {
    const stored = await this.checkpoints.get(id);
    if (stored === undefined) throw checkpointError(CheckpointErrorCode.NotFound, `checkpoint ${id} was committed and has since been deleted by retention`);
    return stored.record;
  }

  private notCommittable(id: string, claim: string, reason: string | undefined): Error {
    if (claim === 'rejected') return checkpointError(CheckpointErrorCode.Conflict, `upload ${id} was rejected: ${reason ?? 'see the service log'}; upload the checkpoint again`);
    if (claim === 'verifying') return checkpointError(CheckpointErrorCode.Conflict, `upload ${id} is being verified by another request; commit again in a moment`);
    if (claim === 'committed') return checkpointError(CheckpointErrorCode.Conflict, `upload ${id} is already committed as checkpoint ${id}`);
    return checkpointError(CheckpointErrorCode.NotFound, `upload ${id} is unknown or expired; begin a new upload`);
  }

  private async openUpload(uploadId: string): Promise<StoredUpload> {
    const upload = await this.sessions.get(uploadId);
    if (upload === undefined || Date.parse(upload.session.expiresAt) < Date.now()) {
      throw checkpointError(CheckpointErrorCode.NotFound, `upload ${uploadId} is unknown or expired; begin a new upload`);
    }
    if (upload.state !== 'open') throw this.notCommittable(uploadId, upload.state, upload.reason);
    return upload;
  }

  private assertPart(upload: StoredUpload, file: string, part: number): void {
    const announced = upload.session.files.find((f) => f.name === file);
    if (announced === undefined) {
      throw checkpointError(CheckpointErrorCode.Invalid, `${file} was not announced for upload ${upload.session.uploadId}; announced: ${upload.session.files.map((f) => f.name).join(', ')}`);
    }
    if (part >= announced.parts) throw checkpointError(CheckpointErrorCode.Invalid, `${file} has parts 0-${announced.parts - 1}; there is no part ${part}`);
  }
}
