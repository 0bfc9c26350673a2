import { Inject, Injectable } from '@nestjs/common';
import { CheckpointManifest, CheckpointManifestFile, CheckpointUploadSession } from '@hounsfield/contracts';
import { createHash, type Hash } from 'node:crypto';
import { OBJECT_STORE, ObjectStore } from '../infrastructure/object-store.provider';
import { expectedPartSize, partCount, partKey } from '../registry/storage-keys';
import { digestPart, PartDigest } from './part-digest';
import { hashProblem, sizeProblem, VerificationProblem } from './verification-problem';

/** The verdict on an upload: its problems, and each file's sha256 computed from the verified bytes. */
export interface Verification {
  problems: VerificationProblem[];
  sha256: Map<string, string>;
}

/** What was learned about one file from the parts verified so far, in order. */
class FileProgress {
  /** The next part the running whole-file hash expects. */
  nextPart = 0;
  readonly whole: Hash = createHash('sha256');
  readonly parts: PartDigest[] = [];
  /** A part came out of order or did not match: the commit reads the file again instead. */
  broken = false;
  /** Parts of one file are verified one after another, in the order they were reported. */
  chain: Promise<unknown> = Promise.resolve();
}

interface UploadProgress {
  files: Map<string, FileProgress>;
  touched: number;
}

/**
 * Verifies uploads against their manifests by streaming sha256 over the stored bytes.
 *
 * Parts are verified as the worker reports them (while it uploads the next one), feeding a
 * running hash of each file; at commit only what was not verified yet is read. That progress is a
 * cache in this process: after a restart, or when another replica takes the commit, the commit
 * reads every file again, which is slower but reaches the same verdict. A part overwritten after
 * it was verified (its size or modification time changed) is read again too.
 */
@Injectable()
export class UploadVerifier {
  private readonly uploads = new Map<string, UploadProgress>();

  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  /** Verifies one reported part now; returns the problem when it does not match what the worker claims. */
  verifyPart(session: CheckpointUploadSession, prefix: string, file: string, part: number, claimed: { size: number; sha256: string }): Promise<VerificationProblem | undefined> {
    const progress = this.progressOf(session.uploadId, file);
    const run = progress.chain.then(async () => {
      const inOrder = !progress.broken && part === progress.nextPart;
      const key = partKey(prefix, file, part);
      const digest = await digestPart(this.store, key, inOrder ? progress.whole : undefined);
      const problem =
        digest === undefined
          ? { file, part, kind: 'missing' as const, message: `${file} part ${part} is not in the store` }
          : digest.size !== claimed.size
            ? sizeProblem(file, part, digest.size, claimed.size)
            : digest.sha256 !== claimed.sha256
              ? hashProblem(file, part, digest.sha256, claimed.sha256)
              : undefined;
      if (problem !== undefined || digest === undefined) {
        // The running hash has seen bytes that are not the file's: the commit must read it again.
        if (inOrder) progress.broken = true;
        return problem;
      }
      if (inOrder) {
        progress.parts.push(digest);
        progress.nextPart += 1;
      } else if (part > progress.nextPart) {
        progress.broken = true;
      }
      return undefined;
    });
    progress.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Every problem of the upload against `manifest` (none when it verifies), and each file's sha256
   * over the stored bytes (checked against the manifest's when it gives one).
   */
  async verify(session: CheckpointUploadSession, prefix: string, manifest: CheckpointManifest): Promise<Verification> {
    const verification: Verification = { problems: manifestProblems(session, manifest), sha256: new Map() };
    if (verification.problems.length > 0) return verification;
    for (const file of manifest.files) {
      const { problems, sha256 } = await this.verifyFile(session, prefix, file);
      verification.problems.push(...problems);
      verification.sha256.set(file.name, sha256);
    }
    return verification;
  }

  /** Drops what this process remembers about an upload (after its commit or rejection). */
  forget(uploadId: string): void {
    this.uploads.delete(uploadId);
  }

  /** Forgets uploads nobody reported on for `idleMs` (abandoned by their worker). */
  evictIdle(idleMs: number, now = Date.now()): void {
    for (const [id, upload] of this.uploads) if (now - upload.touched > idleMs) this.uploads.delete(id);
  }

  private async verifyFile(session: CheckpointUploadSession, prefix: string, file: CheckpointManifestFile): Promise<{ problems: VerificationProblem[]; sha256: string }> {
    const progress = this.uploads.get(session.uploadId)?.files.get(file.name);
    await progress?.chain;
    if (progress && !progress.broken && progress.nextPart === file.parts.length && (await this.unchanged(prefix, file.name, progress.parts))) {
      const problems: VerificationProblem[] = [];
      progress.parts.forEach((digest, part) => problems.push(...compare(file, part, digest)));
      const sha256 = progress.whole.digest('hex');
      progress.broken = true; // the digest is spent; a second commit attempt reads the file again
      return { problems: [...problems, ...wholeFileProblems(file, sha256, problems)], sha256 };
    }
    return this.readWholeFile(prefix, file);
  }

  private async readWholeFile(prefix: string, file: CheckpointManifestFile): Promise<{ problems: VerificationProblem[]; sha256: string }> {
    const whole = createHash('sha256');
    const problems: VerificationProblem[] = [];
    for (let part = 0; part < file.parts.length; part += 1) {
      const digest = await digestPart(this.store, partKey(prefix, file.name, part), whole);
      if (digest === undefined) {
        problems.push({ file: file.name, part, kind: 'missing', message: `${file.name} part ${part} is not in the store (missing)` });
        continue;
      }
      problems.push(...compare(file, part, digest));
    }
    const sha256 = whole.digest('hex');
    return { problems: [...problems, ...wholeFileProblems(file, sha256, problems)], sha256 };
  }

  private async unchanged(prefix: string, file: string, parts: PartDigest[]): Promise<boolean> {
    for (let part = 0; part < parts.length; part += 1) {
      const stat = await this.store.stat(partKey(prefix, file, part));
      if (stat === undefined || stat.size !== parts[part].size || stat.lastModified.getTime() !== parts[part].lastModified) return false;
    }
    return true;
  }

  private progressOf(uploadId: string, file: string): FileProgress {
    let upload = this.uploads.get(uploadId);
    if (upload === undefined) {
      upload = { files: new Map(), touched: Date.now() };
      this.uploads.set(uploadId, upload);
    }
    upload.touched = Date.now();
    let progress = upload.files.get(file);
    if (progress === undefined) {
      progress = new FileProgress();
      upload.files.set(file, progress);
    }
    return progress;
  }
}

/** A whole-file sha256 the manifest states must match too (only checked when the parts did). */
function wholeFileProblems(file: CheckpointManifestFile, sha256: string, partProblems: VerificationProblem[]): VerificationProblem[] {
  if (partProblems.length > 0 || file.sha256 === undefined || file.sha256 === sha256) return [];
  return [hashProblem(file.name, undefined, sha256, file.sha256)];
}

function compare(file: CheckpointManifestFile, part: number, digest: PartDigest): VerificationProblem[] {
  const expected = file.parts[part];
  if (digest.size !== expected.size) return [sizeProblem(file.name, part, digest.size, expected.size)];
  if (digest.sha256 !== expected.sha256) return [hashProblem(file.name, part, digest.sha256, expected.sha256)];
  return [];
}

/** The manifest against the announced files and the part layout, before any byte is read. */
export function manifestProblems(session: CheckpointUploadSession, manifest: CheckpointManifest): VerificationProblem[] {
  const problems: VerificationProblem[] = [];
  const announced = new Map(session.files.map((f) => [f.name, f]));
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const name of announced.keys()) {
    if (!listed.has(name)) problems.push({ file: name, kind: 'missing', message: `${name} was announced for upload but is not in the manifest (missing)` });
  }
  for (const file of manifest.files) {
    const declared = announced.get(file.name);
    if (declared === undefined) {
      problems.push({ file: file.name, kind: 'manifest', message: `${file.name} is in the manifest but was not announced when the upload began` });
      continue;
    }
    if (declared.size !== file.size) {
      problems.push({ file: file.name, kind: 'manifest', message: `${file.name}: the manifest says ${file.size} bytes, the upload announced ${declared.size}` });
      continue;
    }
    const parts = partCount(file.size, session.partSize);
    if (file.parts.length !== parts) {
      problems.push({ file: file.name, kind: 'manifest', message: `${file.name}: ${file.parts.length} parts in the manifest, ${parts} expected for ${file.size} bytes in parts of ${session.partSize}` });
      continue;
    }
    file.parts.forEach((part, index) => {
      const size = expectedPartSize(file.size, session.partSize, index);
      if (part.size !== size) problems.push({ file: file.name, part: index, kind: 'manifest', message: `${file.name} part ${index}: the manifest says ${part.size} bytes, the layout ${size}` });
    });
  }
  return problems;
}
