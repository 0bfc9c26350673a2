import { Inject, Injectable } from '@nestjs/common';
import { CheckpointFile, CheckpointManifest, CheckpointUploadSession } from '@hounsfield/contracts';
import { createHash, type Hash } from 'node:crypto';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { expectedPartSize, partCount, partKey } from '../registry/storage-keys';
import { readPart, StoredPart } from './part-digest';
import { hashProblem, missingProblem, sizeProblem, VerificationProblem } from './verification-problem';

/** What was learned about one file from the parts read so far, in order. */
class FileProgress {
  /** The next part the running hash expects. */
  nextPart = 0;
  readonly whole: Hash = createHash('sha256');
  readonly parts: StoredPart[] = [];
  /** A part came out of order or with the wrong size: the commit reads the file again instead. */
  broken = false;
  /** Parts of one file are read one after another, in the order they were reported. */
  chain: Promise<unknown> = Promise.resolve();
}

interface UploadProgress {
  files: Map<string, FileProgress>;
  touched: number;
}

/**
 * Verifies uploads against their manifests by streaming sha256 over the stored bytes: every part
 * must have its size, every file the sha256 the worker computed from the file it wrote.
 *
 * Parts are read as the worker reports them (while it uploads the next one), feeding a running
 * hash per file, so at commit only what was not read yet is read. That progress is a cache in this
 * process: after a restart, or when another replica takes the commit, the commit reads every file
 * again, which is slower but reaches the same verdict. A part overwritten after it was read (its
 * size or modification time changed) makes the commit read the file again too.
 */
@Injectable()
export class UploadVerifier {
  private readonly uploads = new Map<string, UploadProgress>();

  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  /** Reads one reported part now; returns the problem when it is missing or not the size claimed. */
  verifyPart(session: CheckpointUploadSession, prefix: string, file: string, part: number, claimedSize: number): Promise<VerificationProblem | undefined> {
    const progress = this.progressOf(session.uploadId, file);
    const run = progress.chain.then(async () => {
      const inOrder = !progress.broken && part === progress.nextPart;
      if (!inOrder && part > progress.nextPart) progress.broken = true;
      const stored = await readPart(this.store, partKey(prefix, file, part), inOrder ? progress.whole : undefined);
      const problem = stored === undefined ? missingProblem(file, part) : stored.size !== claimedSize ? sizeProblem(file, part, stored.size, claimedSize) : undefined;
      if (problem !== undefined) {
        // The running hash may have seen bytes that are not the file's: the commit reads it again.
        if (inOrder) progress.broken = true;
        return problem;
      }
      if (inOrder && stored !== undefined) {
        progress.parts.push(stored);
        progress.nextPart += 1;
      }
      return undefined;
    });
    progress.chain = run.catch(() => undefined);
    return run;
  }

  /** Every problem of the upload against `manifest`; none when every byte matches. */
  async verify(session: CheckpointUploadSession, prefix: string, manifest: CheckpointManifest): Promise<VerificationProblem[]> {
    const problems = manifestProblems(session, manifest);
    if (problems.length > 0) return problems;
    for (const file of manifest.files) problems.push(...(await this.verifyFile(session, prefix, file)));
    return problems;
  }

  /** Drops what this process remembers about an upload (after its commit or rejection). */
  forget(uploadId: string): void {
    this.uploads.delete(uploadId);
  }

  /** Forgets uploads nobody reported on for `idleMs` (abandoned by their worker). */
  evictIdle(idleMs: number, now = Date.now()): void {
    for (const [id, upload] of this.uploads) if (now - upload.touched > idleMs) this.uploads.delete(id);
  }

  private async verifyFile(session: CheckpointUploadSession, prefix: string, file: CheckpointFile): Promise<VerificationProblem[]> {
    const progress = this.uploads.get(session.uploadId)?.files.get(file.name);
    await progress?.chain;
    const complete = progress !== undefined && !progress.broken && progress.nextPart === file.parts.length;
    if (complete && (await this.unchanged(prefix, file.name, progress.parts))) {
      progress.broken = true; // the digest is spent; a second commit attempt reads the file again
      return compare(file, progress.parts, progress.whole.digest('hex'));
    }
    return this.readWholeFile(prefix, file);
  }

  private async readWholeFile(prefix: string, file: CheckpointFile): Promise<VerificationProblem[]> {
    const whole = createHash('sha256');
    const stored: StoredPart[] = [];
    for (let part = 0; part < file.parts.length; part += 1) {
      const read = await readPart(this.store, partKey(prefix, file.name, part), whole);
      if (read === undefined) return [missingProblem(file.name, part), ...(await this.missingAfter(prefix, file, part + 1))];
      stored.push(read);
    }
    return compare(file, stored, whole.digest('hex'));
  }

  /** The other missing parts of a file, so a rejection lists them all (a stat each, no reading). */
  private async missingAfter(prefix: string, file: CheckpointFile, from: number): Promise<VerificationProblem[]> {
    const problems: VerificationProblem[] = [];
    for (let part = from; part < file.parts.length; part += 1) {
      if ((await this.store.stat(partKey(prefix, file.name, part))) === undefined) problems.push(missingProblem(file.name, part));
    }
    return problems;
  }

  private async unchanged(prefix: string, file: string, parts: StoredPart[]): Promise<boolean> {
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

/** Part sizes first (they say which part is short); the file's sha256 when they all match. */
function compare(file: CheckpointFile, stored: StoredPart[], sha256: string): VerificationProblem[] {
  const sizes = stored.flatMap((part, index) => (part.size === file.parts[index].size ? [] : [sizeProblem(file.name, index, part.size, file.parts[index].size)]));
  if (sizes.length > 0) return sizes;
  return sha256 === file.sha256 ? [] : [hashProblem(file.name, sha256, file.sha256)];
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
