import { Inject, Injectable } from '@nestjs/common';
import {
  AccessGrant,
  CheckpointListRequest,
  CheckpointPage,
  CheckpointPartRequest,
  decodeCursor,
  encodeCursor,
  CheckpointRecord,
  CheckpointResolveRequest,
  parseCheckpointRef,
  splitQualifiedRef,
} from '@hounsfield/contracts';
import { z } from 'zod';
import { checkpointError, CheckpointErrorCode, fromStorageError } from '../checkpoints.errors';
import { CHECKPOINTS_CONFIG, CheckpointsConfig } from '../config';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { CheckpointRepository, StoredCheckpoint } from '../registry/checkpoint.repository';
import { partKey } from '../registry/storage-keys';
import { bestBy, checkpointMetrics } from '../retention/retention-policy';
import { toGrant } from './grants';

const listCursorSchema = z.object({ member: z.string().min(1).max(256) }).strict();

/** A resolve retries when retention removed its answer between reading and pinning it. */
const RESOLVE_ATTEMPTS = 5;

/** Reading the registry: list, get, resolve references (pinning the answer), download grants. */
@Injectable()
export class CheckpointQueryService {
  constructor(
    private readonly checkpoints: CheckpointRepository,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(CHECKPOINTS_CONFIG) private readonly config: CheckpointsConfig,
  ) {}

  /** The job's committed checkpoints, latest first, one page at a time. */
  async list(request: CheckpointListRequest): Promise<CheckpointPage> {
    const after = request.cursor === undefined ? undefined : decodeCursor(listCursorSchema, request.cursor)?.member;
    if (request.cursor !== undefined && after === undefined) {
      throw checkpointError(CheckpointErrorCode.Invalid, 'cursor is not one this list returned; start without it');
    }
    const page = await this.checkpoints.committedPage(request.jobId, request.limit, after);
    const last = page.checkpoints[page.checkpoints.length - 1];
    return {
      checkpoints: page.checkpoints.map((c) => c.record),
      ...(page.more && last ? { nextCursor: encodeCursor({ member: last.member }) } : {}),
    };
  }

  /**
   * The checkpoint a reference names, pinned so retention keeps its bytes for the pin time even if
   * a concurrent commit retires it. not_found when the job has no such checkpoint.
   */
  async resolve(request: CheckpointResolveRequest): Promise<CheckpointRecord> {
    const { jobId, ref } = this.target(request);
    const until = Date.now() + (request.pinSeconds ?? this.config.HOUNSFIELD_CHECKPOINT_PIN_SECONDS) * 1000;
    for (let attempt = 0; attempt < RESOLVE_ATTEMPTS; attempt += 1) {
      const found = await this.find(jobId, ref);
      if (found === undefined) break;
      if (await this.checkpoints.pin(found, until)) return found.record;
      // Named by id and retired meanwhile: still answerable while an earlier pin keeps its bytes.
      if (ref.startsWith('ck-') && (await this.readable(found))) return found.record;
    }
    const job = jobId ? ` of job ${jobId}` : '';
    throw checkpointError(CheckpointErrorCode.NotFound, `no committed checkpoint${job} matches ${ref}`);
  }

  /** A read grant for one stored part of a committed checkpoint (or a retired one still pinned). */
  async downloadPart(request: CheckpointPartRequest): Promise<AccessGrant> {
    const stored = await this.checkpoints.get(request.id);
    if (stored === undefined || !(await this.readable(stored))) {
      throw checkpointError(CheckpointErrorCode.NotFound, `checkpoint ${request.id} does not exist (or retention has deleted it)`);
    }
    const file = stored.record.files.find((f) => f.name === request.file);
    if (file === undefined) {
      throw checkpointError(CheckpointErrorCode.NotFound, `checkpoint ${request.id} has no file ${request.file}; it has ${stored.record.files.map((f) => f.name).join(', ')}`);
    }
    if (request.part >= file.parts.length) {
      throw checkpointError(CheckpointErrorCode.NotFound, `${request.file} of checkpoint ${request.id} has parts 0-${file.parts.length - 1}`);
    }
    try {
      return toGrant(await this.store.presignGet(partKey(stored.prefix, file.name, request.part), this.config.HOUNSFIELD_CHECKPOINT_GRANT_SECONDS));
    } catch (error) {
      throw fromStorageError(error, `grant for ${request.file} part ${request.part}`);
    }
  }

  private target(request: CheckpointResolveRequest): { jobId?: string; ref: string } {
    const qualified = splitQualifiedRef(request.ref);
    if (qualified?.jobId !== undefined && request.jobId !== undefined && qualified.jobId !== request.jobId) {
      throw checkpointError(CheckpointErrorCode.Invalid, `ref ${request.ref} names job ${qualified.jobId}, but jobId is ${request.jobId}`);
    }
    const jobId = qualified?.jobId ?? request.jobId;
    const ref = qualified?.jobId !== undefined ? qualified.ref : request.ref;
    if (jobId === undefined && !ref.startsWith('ck-')) {
      throw checkpointError(CheckpointErrorCode.Invalid, `ref ${ref} needs a job: give jobId, or write <job>:${ref}`);
    }
    return { jobId, ref };
  }

  private async find(jobId: string | undefined, ref: string): Promise<StoredCheckpoint | undefined> {
    const parsed = parseCheckpointRef(ref);
    switch (parsed.kind) {
      case 'id': {
        const stored = await this.checkpoints.get(parsed.id);
        return stored !== undefined && (jobId === undefined || stored.record.jobId === jobId) ? stored : undefined;
      }
      case 'latest': {
        const member = jobId === undefined ? undefined : await this.checkpoints.latestMember(jobId);
        return member === undefined ? undefined : this.checkpoints.get(member.slice(member.lastIndexOf(':') + 1));
      }
      case 'step':
        // Newest first, so the newest attempt's checkpoint of that step wins.
        return (await this.committedOf(jobId)).find((c) => c.record.step === parsed.step);
      case 'best': {
        const committed = await this.committedOf(jobId);
        const best = bestBy(
          committed.map((c) => ({ id: c.record.id, step: c.record.step, member: c.member, metrics: checkpointMetrics(c.record), stored: c })),
          parsed.metric,
          parsed.mode,
        );
        return best?.stored;
      }
    }
  }

  private committedOf(jobId: string | undefined): Promise<StoredCheckpoint[]> {
    return jobId === undefined ? Promise.resolve([]) : this.checkpoints.committed(jobId);
  }

  private async readable(stored: StoredCheckpoint): Promise<boolean> {
    if (await this.checkpoints.isCommitted(stored)) return true;
    const until = await this.checkpoints.trashedUntil(stored.record.id);
    return until !== undefined && until > Date.now();
  }
}
