import { Inject, Injectable, Logger } from '@nestjs/common';
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  isTerminalJobState,
  JobRecord,
  LogFollowEnd,
  LogLine,
  LogLineEvent,
  LogLiveMessage,
  logLiveMessageSchema,
  LogSource,
  STREAMS,
  SUBJECTS,
} from '@hounsfield/contracts';
import { decodeJson, NatsClient } from '@hounsfield/messaging';
import type { Response } from 'express';
import { GATEWAY_CONFIG, GatewayConfig } from '../config';
import { openEventStream } from '../http/event-stream';
import { LogsClient } from './logs.client';
import { SchedulerClient } from './scheduler.client';

/** The live stream is read from this long before the stored text was captured (clock skew between hosts). */
const LIVE_OVERLAP_MS = 60_000;
/** How often a follow checks whether its job or attempt has ended. */
const WATCH_MS = 2_000;
/** A follow with no new lines asks the scheduler about its job at most this often. */
const IDLE_CHECK_MS = 10_000;

export interface FollowQuery {
  attempt?: number;
  rank?: LogSource;
  tail?: number;
  /** Last-Event-ID: continue after this line. */
  resume?: { attempt: number; seq: number };
}

/** Writes to a response, waiting while the client reads slower than the log arrives. */
export async function writeChunk(response: Response, chunk: string): Promise<void> {
  if (chunk.length > 0 && !response.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
  }
}

/**
 * Follows a job's log (or one attempt's) as server-sent events: the stored lines first (the last
 * `tail`, or all), then the live stream from where the stored text ended — each line once, in seq
 * order, `[hounsfield]` notes where lines are missing. Without `attempt` the follow moves on to the
 * job's next attempts and ends when the job has ended; with it, when that attempt's log is complete.
 */
@Injectable()
export class JobLogsStream {
  private readonly logger = new Logger(JobLogsStream.name);

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly logs: LogsClient,
    private readonly scheduler: SchedulerClient,
  ) {}

  async follow(job: JobRecord, query: FollowQuery, response: Response): Promise<void> {
    const fixed = query.attempt ?? query.resume?.attempt;
    const pages = this.logs.pages({
      jobId: job.id,
      attempt: fixed,
      rank: query.rank,
      ...(query.resume ? { afterSeq: query.resume.seq } : query.tail !== undefined ? { tail: query.tail } : {}),
    });
    const first = (await pages.next()).value;
    const attempt = first?.attempt ?? fixed ?? job.attempt;
    const session = new FollowSession(response, job.id, attempt, query.rank, this.config.HOUNSFIELD_SSE_KEEPALIVE_SECONDS * 1000);
    try {
      if (first) await session.stored(first.lines);
      for await (const page of pages) await session.stored(page.lines);
      const resumedAt = query.resume !== undefined && query.resume.attempt === attempt ? query.resume.seq : -1;
      const storedEnd = Math.max(first?.lastSeq ?? -1, resumedAt);
      session.storedUpTo(storedEnd);
      if (first?.complete && (query.attempt !== undefined || (isTerminalJobState(job.state) && job.attempt === attempt))) {
        return session.end('the log is complete');
      }
      await this.live(session, job, { oneAttempt: query.attempt !== undefined, capturedAt: first?.capturedAt ?? null });
    } catch (error) {
      this.logger.warn(`following the log of ${job.id} failed: ${String(error)}`);
      session.end(`the log could not be followed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      session.close();
    }
  }

  private async live(session: FollowSession, job: JobRecord, options: { oneAttempt: boolean; capturedAt: string | null }): Promise<void> {
    const start = options.capturedAt === null ? undefined : new Date(Date.parse(options.capturedAt) - LIVE_OVERLAP_MS).toISOString();
    const consumer = await this.nats.js.consumers.get(STREAMS.logs, {
      filter_subjects: [options.oneAttempt ? SUBJECTS.jobLogs(job.id, session.attempt) : SUBJECTS.jobLogsAll(job.id)],
      ...(start ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start } : { deliver_policy: DeliverPolicy.All }),
    });
    const messages = await consumer.consume();
    session.onClose(() => void messages.close());
    const watch = new EndWatch(this.scheduler, job.id, session, options.oneAttempt, () => void messages.close());
    const timer = setInterval(() => void watch.check(), WATCH_MS);
    try {
      for await (const msg of messages) {
        let message: LogLiveMessage;
        try {
          message = decodeJson(logLiveMessageSchema, msg.data);
        } catch (error) {
          this.logger.warn(`skipped a malformed log message ${msg.seq} on ${msg.subject}: ${String(error)}`);
          continue;
        }
        if (message.attempt < session.attempt) continue;
        if (message.type === 'lines') {
          await session.live(message.attempt, message.lines);
          watch.sawLines(message.attempt);
        } else if (options.oneAttempt) {
          return session.end('the log is complete');
        } else {
          watch.sawEnd(message.attempt);
        }
        if (watch.reason !== undefined) break;
      }
      if (watch.reason !== undefined) session.end(watch.reason);
    } finally {
      clearInterval(timer);
      await messages.close();
    }
  }
}

/** Decides when a live follow is over: its job (or attempt) has ended and its last lines are in. */
class EndWatch {
  reason?: string;
  private ended?: number;
  private newest = 0;
  private lastLineAt = Date.now();
  private lastAskedAt = 0;

  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly jobId: string,
    private readonly session: FollowSession,
    private readonly oneAttempt: boolean,
    private readonly stop: () => void,
  ) {}

  sawLines(attempt: number): void {
    this.lastLineAt = Date.now();
    this.newest = Math.max(this.newest, attempt);
  }

  sawEnd(attempt: number): void {
    this.ended = attempt;
    this.newest = Math.max(this.newest, attempt);
  }

  async check(now = Date.now()): Promise<void> {
    const endSeen = this.ended !== undefined && this.ended >= this.newest;
    const idle = now - this.lastLineAt >= IDLE_CHECK_MS && now - this.lastAskedAt >= IDLE_CHECK_MS;
    if (!endSeen && !idle) return;
    this.lastAskedAt = now;
    let job: JobRecord;
    try {
      job = await this.scheduler.get(this.jobId);
    } catch {
      return; // asked again at the next check
    }
    const over = isTerminalJobState(job.state) && job.attempt <= Math.max(this.newest, this.session.attempt);
    if (this.oneAttempt ? over || job.attempt > this.session.attempt : over) {
      this.reason = endSeen ? 'the job has ended' : 'the job has ended (its last lines did not all reach the log)';
      this.stop();
    }
  }
}

/** One follower's SSE response: what was sent, per attempt, so each line goes out once. */
class FollowSession {
  /** Per attempt, the highest seq sent (or known to be stored and sent). */
  private readonly sent = new Map<number, number>();
  private readonly stopKeepalive: () => void;
  private readonly closers: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly response: Response,
    private readonly jobId: string,
    readonly attempt: number,
    private readonly rank: LogSource | undefined,
    keepaliveMs: number,
  ) {
    this.stopKeepalive = openEventStream(response, keepaliveMs);
    response.on('close', () => this.close());
  }

  onClose(closer: () => void): void {
    this.closers.push(closer);
  }

  async stored(lines: LogLine[]): Promise<void> {
    for (const line of lines) await this.send(this.attempt, line);
  }

  storedUpTo(seq: number): void {
    this.sent.set(this.attempt, Math.max(this.sent.get(this.attempt) ?? -1, seq));
  }

  /** Live lines of an attempt, in seq order: repeats are dropped, a jump gets a note. */
  async live(attempt: number, lines: LogLine[]): Promise<void> {
    for (const line of lines) {
      const last = this.sent.get(attempt) ?? -1;
      if (line.seq <= last) continue;
      if (line.seq > last + 1) {
        const missing = line.seq - last - 1;
        const note = `… ${missing} lines are missing from the live log here; GET /v1/jobs/${this.jobId}/logs?attempt=${attempt} has what was stored …`;
        await this.write(attempt, { seq: line.seq - 1, rank: 'hounsfield', text: note });
      }
      this.sent.set(attempt, line.seq);
      if (this.rank === undefined || line.rank === this.rank) await this.write(attempt, line);
    }
  }

  end(reason: string): void {
    if (this.closed) return;
    const event: LogFollowEnd = { attempt: this.attempt, reason };
    this.response.write(`event: end\ndata: ${JSON.stringify(event)}\n\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepalive();
    for (const closer of this.closers) closer();
    this.response.end();
  }

  private async send(attempt: number, line: LogLine): Promise<void> {
    this.sent.set(attempt, Math.max(this.sent.get(attempt) ?? -1, line.seq));
    await this.write(attempt, line);
  }

  private async write(attempt: number, line: LogLine): Promise<void> {
    if (this.closed) return;
    const event: LogLineEvent = { attempt, ...line };
    await writeChunk(this.response, `id: ${attempt}:${line.seq}\nevent: line\ndata: ${JSON.stringify(event)}\n\n`);
  }
}
