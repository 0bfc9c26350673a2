/**
 * Where checkpoint bytes live in the object store:
 *
 *   checkpoints/<job>/<step>/<checkpoint id>/<file>/<part, 5 digits>
 *   imports/<import id>/<file name>
 *   logs/<job>/<attempt>/<segment index, 6 digits>.log
 *
 * Each upload has its own directory (its id), so a second upload of the same step never touches
 * the bytes of a committed checkpoint. A file's parts concatenate in name order:
 * `cat model.safetensors/* > model.safetensors` reassembles it.
 */
export function uploadPrefix(jobId: string, step: number, uploadId: string): string {
  return `checkpoints/${jobId}/${step}/${uploadId}/`;
}

export function partKey(prefix: string, file: string, part: number): string {
  return `${prefix}${file}/${String(part).padStart(5, '0')}`;
}

/** Parts a file of `size` bytes is cut into (an empty file is one empty part). */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** The size of part `part` of a file of `size` bytes. */
export function expectedPartSize(size: number, partSize: number, part: number): number {
  return Math.max(0, Math.min(partSize, size - part * partSize));
}

export function importPrefix(importId: string): string {
  return `imports/${importId}/`;
}

/** A user's file name as one safe key segment (the original stays in the import record). */
export function importKey(importId: string, fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 128);
  return `${importPrefix(importId)}${safe || 'source'}`;
}

/** All stored logs of a job. */
export function jobLogsPrefix(jobId: string): string {
  return `logs/${jobId}/`;
}

/** One segment of an attempt's log: whole `[rank N] …` lines, as the worker wrote them. */
export function logSegmentKey(jobId: string, attempt: number, index: number): string {
  return `${jobLogsPrefix(jobId)}${attempt}/${String(index).padStart(6, '0')}.log`;
}
