import { Inject, Injectable } from '@nestjs/common';
import { droppedLinesMarker, LogLine, LogReadReply, LogReadRequest, LogSource, parseLogLine } from '@hounsfield/contracts';
import { OBJECT_STORE, ObjectStore } from '@hounsfield/runtime';
import { isStorageError, StorageErrorCode } from '@hounsfield/storage';
import { fromStorageError } from '../checkpoints.errors';
import { logSegmentKey } from '../registry/storage-keys';
import { LogRepository, StoredSegment } from './log.repository';
import { summarize } from './log-store.service';

/** A page of text stays well inside a NATS message. */
const DEFAULT_PAGE_BYTES = 256 * 1024;
/** A page reads at most this many segments (a rank that printed little can leave a page short). */
const SEGMENTS_PER_PAGE = 16;
/** JSON around each line's text in the reply. */
const LINE_OVERHEAD_BYTES = 48;

type Page = Pick<LogReadReply, 'lines' | 'nextAfterSeq'>;

/**
 * Reads stored attempt logs a page at a time: the lines after `afterSeq` up to `lastSeq`, of one
 * source or all, with a `[hounsfield]` note where rotation dropped lines; `tail` first finds where
 * the last N lines begin.
 */
@Injectable()
export class LogReaderService {
  constructor(
    private readonly logs: LogRepository,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
  ) {}

  async read(request: LogReadRequest): Promise<LogReadReply> {
    const stored = await this.logs.attempts(request.jobId);
    const summaries = await Promise.all(stored.map(async (a) => summarize(a, await this.logs.segments(request.jobId, a.attempt))));
    const attempt = stored.find((a) => a.attempt === (request.attempt ?? stored.at(-1)?.attempt));
    const empty = { jobId: request.jobId, attempts: summaries, lines: [], nextAfterSeq: null, complete: false, capturedAt: null };
    if (attempt === undefined) return { ...empty, attempt: request.attempt ?? null, lastSeq: -1 };

    const segments = await this.logs.segments(request.jobId, attempt.attempt);
    const storedEnd = segments.reduce((end, s) => Math.max(end, s.firstSeq + s.lines), 0);
    const lastSeq = Math.min(request.untilSeq ?? Number.MAX_SAFE_INTEGER, storedEnd - 1);
    const texts = new SegmentTexts(this.store, request.jobId, attempt.attempt);
    const afterSeq =
      request.tail !== undefined ? await this.tailStart(segments, texts, request.tail, lastSeq, request.rank) : (request.afterSeq ?? -1);
    const page = await this.page(segments, texts, { afterSeq, lastSeq, rank: request.rank, budget: request.maxBytes ?? DEFAULT_PAGE_BYTES });
    return { ...empty, attempt: attempt.attempt, ...page, lastSeq, complete: attempt.final, capturedAt: attempt.capturedAt };
  }

  /** The seq after which the last `count` lines (of `rank`) up to `lastSeq` begin. */
  private async tailStart(segments: StoredSegment[], texts: SegmentTexts, count: number, lastSeq: number, rank?: LogSource): Promise<number> {
    if (count === 0) return lastSeq;
    let found = 0;
    for (const segment of [...segments].reverse()) {
      if (segment.firstSeq > lastSeq) continue;
      const lines = await texts.of(segment);
      for (let i = Math.min(lines.length, lastSeq - segment.firstSeq + 1) - 1; i >= 0; i -= 1) {
        if (rank !== undefined && parseLogLine(lines[i]).rank !== rank) continue;
        found += 1;
        if (found === count) return segment.firstSeq + i - 1;
      }
    }
    return -1;
  }

  private async page(
    segments: StoredSegment[],
    texts: SegmentTexts,
    range: { afterSeq: number; lastSeq: number; rank?: LogSource; budget: number },
  ): Promise<Page> {
    const { afterSeq, lastSeq, rank, budget } = range;
    const lines: LogLine[] = [];
    let bytes = 0;
    let read = 0;
    let expected = 0;
    const full = (seq: number): Page | undefined => (bytes >= budget && seq < lastSeq ? { lines, nextAfterSeq: seq } : undefined);
    for (const segment of segments) {
      if (segment.firstSeq > lastSeq) break;
      const gapEnd = segment.firstSeq - 1;
      if (segment.firstSeq > expected && gapEnd > afterSeq) {
        // The marker takes the seq of the last missing line, so a later page starts after it.
        lines.push({ seq: gapEnd, rank: 'hounsfield', text: droppedLinesMarker(segment.firstSeq - expected) });
        bytes += LINE_OVERHEAD_BYTES;
        const stop = full(gapEnd);
        if (stop) return stop;
      }
      expected = segment.firstSeq + segment.lines;
      if (expected - 1 <= afterSeq) continue;
      if (read === SEGMENTS_PER_PAGE) return { lines, nextAfterSeq: Math.max(afterSeq, segment.firstSeq - 1) };
      read += 1;
      const stored = await texts.of(segment);
      for (let i = Math.max(0, afterSeq + 1 - segment.firstSeq); i < stored.length; i += 1) {
        const seq = segment.firstSeq + i;
        if (seq > lastSeq) return { lines, nextAfterSeq: null };
        const line = parseLogLine(stored[i]);
        if (rank !== undefined && line.rank !== rank) continue;
        lines.push({ seq, ...line });
        // As it will be sent: escapes (terminal colour codes are common) can make a line 6 times longer.
        bytes += Buffer.byteLength(JSON.stringify(line.text)) + LINE_OVERHEAD_BYTES;
        const stop = full(seq);
        if (stop) return stop;
      }
    }
    return { lines, nextAfterSeq: null };
  }
}

/** Segment objects read once per request, as lines (each read up to its committed bytes). */
class SegmentTexts {
  private readonly cache = new Map<number, string[]>();

  constructor(
    private readonly store: ObjectStore,
    private readonly jobId: string,
    private readonly attempt: number,
  ) {}

  async of(segment: StoredSegment): Promise<string[]> {
    const cached = this.cache.get(segment.index);
    if (cached) return cached;
    const lines = await this.load(segment);
    this.cache.set(segment.index, lines);
    return lines;
  }

  private async load(segment: StoredSegment): Promise<string[]> {
    if (segment.bytes === 0) return [];
    const key = logSegmentKey(this.jobId, this.attempt, segment.index);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of await this.store.get(key, { offset: 0, length: segment.bytes })) chunks.push(chunk as Buffer);
    } catch (error) {
      // Deleted by rotation or retention since the index was read: read as if it were dropped.
      if (isStorageError(error) && error.code === StorageErrorCode.NotFound) return [];
      throw fromStorageError(error, `log segment ${key}`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(0, segment.lines);
  }
}
