import {
  ApiRole,
  ApiToken,
  apiTokenSchema,
  ApiUser,
  apiUserSchema,
  CreatedApiToken,
  createdApiTokenSchema,
  CheckpointRecord,
  checkpointRecordSchema,
  CreateTokenRequest,
  EvaluationRecord,
  evaluationRecordSchema,
  EvaluationReportFormat,
  EvaluationSpecInput,
  JobEvent,
  jobEventSchema,
  JobMetrics,
  jobMetricsSchema,
  JobRecord,
  jobRecordSchema,
  TrainingJobSpecInput,
  JobPage,
  jobPageSchema,
  JobState,
  LogFollowEnd,
  logFollowEndSchema,
  LogLineEvent,
  logLineEventSchema,
  LogSource,
  Principal,
  principalSchema,
  WorkerView,
  workerViewSchema,
} from '@hounsfield/contracts';
import { z } from 'zod';
import { readServerSentEvents } from './server-sent-events';

/** Which lines of a job's log: an attempt (the latest when absent), one rank (or `launcher`), the last N. */
export interface LogQuery {
  attempt?: number;
  rank?: LogSource;
  tail?: number;
}

export type LogFollowEvent = ({ event: 'line' } & LogLineEvent) | ({ event: 'end' } & LogFollowEnd);

/** A non-2xx answer, with the RFC 9457 problem the gateway sent. */
export class HounsfieldApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; errors?: { path: string; message: string }[]; [k: string]: unknown },
  ) {
    super(`${status} ${problem.title ?? 'error'}: ${problem.detail ?? ''}`);
    this.name = 'HounsfieldApiError';
  }
}

export interface ClientOptions {
  baseUrl: string;
  token?: string;
}

/** Typed client for the gateway's HTTP API; every response is validated against the contracts. */
export class HounsfieldClient {
  constructor(private readonly options: ClientOptions) {}

  private async call<T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> {
    const response = await fetch(`${this.options.baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new HounsfieldApiError(response.status, (json ?? {}) as HounsfieldApiError['problem']);
    return schema.parse(json);
  }

  /** Submits a training job; the token's user owns it. */
  submitJob(spec: TrainingJobSpecInput): Promise<JobRecord> {
    return this.call('POST', '/v1/jobs', jobRecordSchema, spec);
  }

  getJob(id: string): Promise<JobRecord> {
    return this.call('GET', `/v1/jobs/${encodeURIComponent(id)}`, jobRecordSchema);
  }

  /** One page of jobs, newest first; pass `nextCursor` back for the next. */
  listJobsPage(options: { state?: JobState; owner?: string; limit?: number; cursor?: string } = {}): Promise<JobPage> {
    const query = new URLSearchParams({
      limit: String(options.limit ?? 100),
      ...(options.state ? { state: options.state } : {}),
      ...(options.owner ? { owner: options.owner } : {}),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    return this.call('GET', `/v1/jobs?${query}`, jobPageSchema);
  }

  async listJobs(state?: JobState, limit = 100): Promise<JobRecord[]> {
    return (await this.listJobsPage({ state, limit })).jobs;
  }

  cancelJob(id: string, graceSeconds?: number): Promise<JobRecord> {
    return this.call('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`, jobRecordSchema, graceSeconds === undefined ? {} : { graceSeconds });
  }

  /** Stored metric series of a job (all, or those named), optionally limited to a step range. */
  jobMetrics(id: string, options: { names?: string[]; from?: number; to?: number } = {}): Promise<JobMetrics> {
    const query = new URLSearchParams({
      ...(options.names?.length ? { name: options.names.join(',') } : {}),
      ...(options.from !== undefined ? { from: String(options.from) } : {}),
      ...(options.to !== undefined ? { to: String(options.to) } : {}),
    });
    return this.call('GET', `/v1/jobs/${encodeURIComponent(id)}/metrics${query.size ? `?${query}` : ''}`, jobMetricsSchema);
  }

  /** The token's user and role. */
  whoami(): Promise<Principal> {
    return this.call('GET', '/v1/whoami', principalSchema);
  }

  /** A new token (for yourself, or as an admin for `user`); the secret is in this answer only. */
  createToken(request: CreateTokenRequest): Promise<CreatedApiToken> {
    return this.call('POST', '/v1/tokens', createdApiTokenSchema, request);
  }

  async listTokens(user?: string): Promise<ApiToken[]> {
    const query = user ? `?${new URLSearchParams({ user })}` : '';
    return (await this.call('GET', `/v1/tokens${query}`, z.object({ tokens: z.array(apiTokenSchema) }))).tokens;
  }

  revokeToken(id: string): Promise<ApiToken> {
    return this.call('DELETE', `/v1/tokens/${encodeURIComponent(id)}`, apiTokenSchema);
  }

  createUser(name: string, role: ApiRole): Promise<ApiUser> {
    return this.call('POST', '/v1/users', apiUserSchema, { name, role });
  }

  updateUser(name: string, update: { role?: ApiRole; disabled?: boolean }): Promise<ApiUser> {
    return this.call('PATCH', `/v1/users/${encodeURIComponent(name)}`, apiUserSchema, update);
  }

  async listUsers(): Promise<ApiUser[]> {
    return (await this.call('GET', '/v1/users', z.object({ users: z.array(apiUserSchema) }))).users;
  }

  async listWorkers(): Promise<WorkerView[]> {
    return (await this.call('GET', '/v1/workers', z.object({ workers: z.array(workerViewSchema) }))).workers;
  }

  /**
   * Yields the job's events from the server-sent event stream, in order, until the job ends
   * (the server closes the stream after the terminal state) or `signal` aborts.
   */
  async *jobEvents(id: string, signal?: AbortSignal): AsyncGenerator<JobEvent & { eventId: number }> {
    const response = await fetch(`${this.options.baseUrl}/v1/jobs/${encodeURIComponent(id)}/events`, {
      headers: { accept: 'text/event-stream', ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
      signal,
    });
    if (!response.ok || !response.body) {
      throw new HounsfieldApiError(response.status, JSON.parse((await response.text()) || '{}'));
    }
    for await (const event of readServerSentEvents(response.body as unknown as AsyncIterable<Uint8Array>)) {
      yield { ...jobEventSchema.parse(JSON.parse(event.data)), eventId: Number(event.id) };
    }
  }

  /** A job's committed checkpoints (the first page, newest first, as the checkpoint service lists them). */
  async listCheckpoints(jobId: string, limit = 100): Promise<CheckpointRecord[]> {
    const page = await this.call(
      'GET',
      `/v1/checkpoints?${new URLSearchParams({ job: jobId, limit: String(limit) })}`,
      z.object({ checkpoints: z.array(checkpointRecordSchema), nextCursor: z.string().optional() }),
    );
    return page.checkpoints;
  }

  /** Starts an evaluation of a trained pair; the token's user owns it. */
  submitEvaluation(spec: EvaluationSpecInput): Promise<EvaluationRecord> {
    return this.call('POST', '/v1/evaluations', evaluationRecordSchema, spec);
  }

  getEvaluation(id: string): Promise<EvaluationRecord> {
    return this.call('GET', `/v1/evaluations/${encodeURIComponent(id)}`, evaluationRecordSchema);
  }

  /** One report of a succeeded evaluation, as text. */
  async evaluationReport(id: string, format: EvaluationReportFormat): Promise<string> {
    const response = await fetch(`${this.options.baseUrl}/v1/evaluations/${encodeURIComponent(id)}/reports/${format}`, {
      headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
    });
    if (!response.ok) throw new HounsfieldApiError(response.status, JSON.parse((await response.text()) || '{}'));
    return response.text();
  }

  /** The stored log of a job's attempt as text, one `[rank N] …` line per line. */
  async jobLogs(id: string, query: LogQuery = {}): Promise<string> {
    const response = await this.fetchLogs(id, query, false);
    return response.text();
  }

  /**
   * Follows a job's log: stored lines first, then new ones as they are printed, until the job
   * ends (or, with `attempt`, that attempt's log is complete) or `signal` aborts.
   */
  async *followJobLogs(id: string, query: LogQuery = {}, signal?: AbortSignal): AsyncGenerator<LogFollowEvent> {
    const response = await this.fetchLogs(id, query, true, signal);
    for await (const event of readServerSentEvents(response.body as unknown as AsyncIterable<Uint8Array>)) {
      const data: unknown = JSON.parse(event.data);
      if (event.event === 'end') {
        yield { event: 'end', ...logFollowEndSchema.parse(data) };
        return;
      }
      if (event.event === 'line') yield { event: 'line', ...logLineEventSchema.parse(data) };
    }
  }

  private async fetchLogs(id: string, query: LogQuery, follow: boolean, signal?: AbortSignal): Promise<Response> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    if (follow) params.set('follow', 'true');
    const response = await fetch(`${this.options.baseUrl}/v1/jobs/${encodeURIComponent(id)}/logs?${params}`, {
      headers: { ...(follow ? { accept: 'text/event-stream' } : {}), ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
      signal,
    });
    if (!response.ok || !response.body) throw new HounsfieldApiError(response.status, JSON.parse((await response.text()) || '{}'));
    return response;
  }

  /** Polls until the job reaches one of the states, or throws after `timeoutMs`. */
  async waitForState(id: string, states: JobState[], timeoutMs = 120_000, intervalMs = 250): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    let job = await this.getJob(id);
    while (!states.includes(job.state)) {
      if (Date.now() > deadline) throw new Error(`job ${id} is ${job.state}, not ${states.join('/')}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, intervalMs));
      job = await this.getJob(id);
    }
    return job;
  }
}
