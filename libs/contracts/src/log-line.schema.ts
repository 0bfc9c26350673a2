import { z } from 'zod';

/** The longest line a worker stores (16 KiB of UTF-8); longer output is cut into several lines. */
export const LOG_LINE_MAX_CHARS = 16_384;

/**
 * Where a log line came from: a global rank (torchrun's `RANK`), `launcher` (the launcher and
 * torchrun's own messages), or `hounsfield` (the platform's notes, such as lines dropped by rotation).
 */
export const logSourceSchema = z.union([z.number().int().min(0), z.enum(['launcher', 'hounsfield'])]).meta({ id: 'LogSource' });
export type LogSource = z.infer<typeof logSourceSchema>;

/** One line of an attempt's log; `seq` counts the attempt's lines from 0. */
export const logLineSchema = z
  .object({
    seq: z.number().int().min(0),
    rank: logSourceSchema,
    text: z.string().max(LOG_LINE_MAX_CHARS),
  })
  .strict()
  .meta({ id: 'LogLine' });
export type LogLine = z.infer<typeof logLineSchema>;

/** The stored and displayed form: `[rank 0] text`, `[launcher] text`, `[hounsfield] text`. */
export function formatLogLine(line: Pick<LogLine, 'rank' | 'text'>): string {
  return `[${typeof line.rank === 'number' ? `rank ${line.rank}` : line.rank}] ${line.text}`;
}

const PREFIX = /^\[(?:rank (\d+)|(launcher|hounsfield))\] /;

/** The source and text of a stored line; a line without a known prefix counts as the launcher's. */
export function parseLogLine(stored: string): Pick<LogLine, 'rank' | 'text'> {
  const match = PREFIX.exec(stored);
  if (!match) return { rank: 'launcher', text: stored.slice(0, LOG_LINE_MAX_CHARS) };
  const rank: LogSource = match[1] !== undefined ? Number(match[1]) : (match[2] as 'launcher' | 'hounsfield');
  return { rank, text: stored.slice(match[0].length, match[0].length + LOG_LINE_MAX_CHARS) };
}

/** The note readers show where rotation on the worker dropped `count` lines (the worker's reader writes the same). */
export function droppedLinesMarker(count: number): string {
  return `… ${count} lines dropped here by log rotation (an attempt's log keeps its first segment and its newest lines, HOUNSFIELD_LOG_MAX_MIB in all) …`;
}
