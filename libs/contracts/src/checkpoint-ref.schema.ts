import { z } from 'zod';
import { identifierSchema } from './common.schema';

/** Checkpoint ids are opaque: `ck-` and 24 hex digits, minted by the checkpoints service. */
export const checkpointIdSchema = z.string().regex(/^ck-[0-9a-f]{24}$/, 'a checkpoint id such as ck-0123456789abcdef01234567');

const METRIC = '[A-Za-z0-9_./-]{1,128}';
const REF = new RegExp(`^(latest|best:${METRIC}:(min|max)|\\d{1,15}|ck-[0-9a-f]{24})$`);

/**
 * Which checkpoint of a job: `latest` (newest attempt, then highest step), `best:<metric>:<min|max>`
 * (best committed value of a reported metric), a step number, or a checkpoint id.
 */
export const checkpointRefSchema = z
  .string()
  .regex(REF, 'latest, best:<metric>:<min|max>, a step number or a checkpoint id (ck-…)');

export type CheckpointRef =
  | { kind: 'latest' }
  | { kind: 'best'; metric: string; mode: 'min' | 'max' }
  | { kind: 'step'; step: number }
  | { kind: 'id'; id: string };

/** Parses a validated reference (see `checkpointRefSchema`); throws on anything else. */
export function parseCheckpointRef(ref: string): CheckpointRef {
  const checked = checkpointRefSchema.parse(ref);
  if (checked === 'latest') return { kind: 'latest' };
  if (checked.startsWith('ck-')) return { kind: 'id', id: checked };
  if (checked.startsWith('best:')) {
    const mode = checked.endsWith(':min') ? 'min' : 'max';
    return { kind: 'best', metric: checked.slice('best:'.length, -':min'.length), mode };
  }
  return { kind: 'step', step: Number(checked) };
}

/**
 * `<job>:<ref>` as written in `spec.checkpoint.resumeFrom` (`pcdiff-1:latest`, `pcdiff-1:best:val_loss:min`,
 * `pcdiff-1:12000`), or a bare checkpoint id.
 */
export const qualifiedCheckpointRefSchema = z.string().refine(
  (value) => splitQualifiedRef(value) !== undefined,
  'a checkpoint reference such as <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step> or ck-…',
);

/** The job and reference of `<job>:<ref>`, or of a bare checkpoint id (no job); undefined when malformed. */
export function splitQualifiedRef(value: string): { jobId?: string; ref: string } | undefined {
  if (checkpointIdSchema.safeParse(value).success) return { ref: value };
  const colon = value.indexOf(':');
  if (colon < 0) return undefined;
  const jobId = value.slice(0, colon);
  const ref = value.slice(colon + 1);
  if (!identifierSchema.safeParse(jobId).success || !checkpointRefSchema.safeParse(ref).success) return undefined;
  return { jobId, ref };
}
