import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccessGrant, LogAttemptSummary, LogSegmentCommit, LogSegmentGrantRequest } from '@hounsfield/contracts';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { toGrant } from '../queries/grants';
import { jobLogsPrefix, logSegmentKey } from '../registry/storage-keys';
import { LogRepository, StoredAttempt, StoredSegment } from './log.repository';

/**
 * Attempt logs in the store: grants for the worker's segments, their commits, and retention.
 *
 * Retention: a job's logs are deleted HOUNSFIELD_LOG_RETENTION_SECONDS after the last segment any
 * of its attempts committed — in practice that long after the job ended (its last attempt commits
 * the final segment as it ends). A running job keeps committing, so none of its logs expire.
 */
@Injectable()
export class LogStoreService {
  private readonly logger = new Logger(LogStoreService.name);

  constructor(
    private readonly logs: LogRepository,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  async grant(request: LogSegmentGrantRequest): Promise<AccessGrant> {
    const key = logSegmentKey(request.jobId, request.attempt, request.index);
    try {
      return toGrant(await this.store.presignPut(key, this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS));
    } catch (error) {
      throw fromStorageError(error, `log segment ${key}`);
    }
  }

  /** Makes a stored segment readable; refused when the store does not hold its bytes. */
  async commit(commit: LogSegmentCommit, now = Date.now()): Promise<LogAttemptSummary> {
    const key = logSegmentKey(commit.jobId, commit.attempt, commit.index);
    let stat;
    try {
      stat = await this.store.stat(key);
    } catch (error) {
      throw fromStorageError(error, `log segment ${key}`);
    }
    if (stat === undefined || stat.size < commit.bytes) {
      const found = stat === undefined ? 'nothing' : `${stat.size} bytes`;
      throw checkpointError(CheckpointErrorCode.Invalid, `log segment ${commit.index}: the store holds ${found}, the commit names ${commit.bytes} bytes; store it first`);
    }
    const segment: StoredSegment = { index: commit.index, firstSeq: commit.firstSeq, lines: commit.lines, bytes: commit.bytes, closed: commit.closed };
    const attempt: StoredAttempt = {
      attempt: commit.attempt,
      droppedBefore: commit.droppedBefore,
      final: commit.final,
      maxBytes: commit.maxBytes,
      capturedAt: commit.capturedAt,
      updatedAt: new Date(now).toISOString(),
    };
    const dropped = await this.logs.commit(commit.jobId, segment, attempt, now + this.config.HOUNSFIELD_LOG_RETENTION_SECONDS * 1000);
    for (const index of dropped) await this.store.delete(logSegmentKey(commit.jobId, commit.attempt, index));
    return summarize(attempt, await this.logs.segments(commit.jobId, commit.attempt));
  }

  /** Deletes the logs of every job whose retention ended. */
  async sweep(now = Date.now()): Promise<void> {
    for (;;) {
      const jobs = await this.logs.expired(now);
      if (jobs.length === 0) return;
      for (const jobId of jobs) {
        const deleted = await this.store.deletePrefix(jobLogsPrefix(jobId));
        await this.logs.forget(jobId);
        this.logger.log(`logs of job ${jobId} deleted by retention (${deleted} segments)`);
      }
    }
  }
}

/** What the store holds of one attempt: lines 0 … lines-1 were written (rotation may have dropped some). */
export function summarize(attempt: StoredAttempt, segments: StoredSegment[]): LogAttemptSummary {
  return {
    attempt: attempt.attempt,
    lines: segments.reduce((end, s) => Math.max(end, s.firstSeq + s.lines), 0),
    bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
    complete: attempt.final,
    updatedAt: attempt.updatedAt,
  };
}
