import { CheckpointMeta, checkpointMetaSchema, CheckpointUploadSession } from '@hounsfield/contracts';
import type { ObjectStore } from '@hounsfield/storage';
import { partKey } from '../registry/storage-keys';
import { VerificationProblem } from '../verification/verification-problem';

/** meta.json is small; a larger one is refused before it is read. */
export const MAX_META_BYTES = 1024 * 1024;

/**
 * Reads the verified meta.json of an upload from the store and checks it describes this upload.
 * The registry takes metadata only from here, never from a second copy in the request.
 */
export async function readUploadMeta(
  store: ObjectStore,
  session: CheckpointUploadSession,
  prefix: string,
  fileNames: string[],
): Promise<{ meta: CheckpointMeta } | { problem: VerificationProblem }> {
  const declared = session.files.find((f) => f.name === 'meta.json');
  const problem = (message: string) => ({ problem: { file: 'meta.json', kind: 'manifest' as const, message } });
  if (declared === undefined) return problem('the checkpoint has no meta.json');
  if (declared.size > MAX_META_BYTES) return problem(`meta.json has ${declared.size} bytes; at most ${MAX_META_BYTES} are allowed`);
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(partKey(prefix, 'meta.json', 0))) chunks.push(chunk as Buffer);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    return problem(`meta.json is not JSON: ${String(error)}`);
  }
  const parsed = checkpointMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return problem(`meta.json is not checkpoint metadata: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const meta = parsed.data;
  if (meta.step !== session.step) return problem(`meta.json says step ${meta.step}, the upload is for step ${session.step}`);
  if (meta.jobId !== undefined && meta.jobId !== session.jobId) return problem(`meta.json belongs to job ${meta.jobId}, the upload to ${session.jobId}`);
  if (meta.attempt !== undefined && meta.attempt !== session.attempt) {
    return problem(`meta.json says attempt ${meta.attempt}, the upload is from attempt ${session.attempt}`);
  }
  const missing = Object.values(meta.stateFiles).filter((name) => !fileNames.includes(name));
  if (missing.length > 0) return problem(`meta.json names state files the checkpoint lacks: ${missing.join(', ')}`);
  return { meta };
}
