import {
  apiTokenIdSchema,
  apiTokenSchema,
  apiUserSchema,
  checkpointDownloadSchema,
  checkpointFileNameSchema,
  checkpointImportSchema,
  checkpointPageSchema,
  checkpointRecordSchema,
  codeDigestSchema,
  codeStatSchema,
  createdApiTokenSchema,
  createTokenRequestSchema,
  createUserRequestSchema,
  evaluationArtifactRequestSchema,
  evaluationCaseIdSchema,
  evaluationPageSchema,
  evaluationRecordSchema,
  evaluationReportFormatSchema,
  evaluationSpecSchema,
  identifierSchema,
  jobMetricsSchema,
  jobPageSchema,
  jobRecordSchema,
  jobStateSchema,
  legacyCheckpointFormatSchema,
  pageQueryShape,
  principalSchema,
  queuePageSchema,
  streamTicketRequestSchema,
  streamTicketSchema,
  tokenPageSchema,
  trainingJobSpecSchema,
  updateUserRequestSchema,
  userNameSchema,
  userPageSchema,
  workerPageSchema,
} from '@hounsfield/contracts';
import { z } from 'zod';
import { Permission } from '../auth/permissions';
import { logsQuerySchema } from '../jobs/job-logs.controller';

/** A body that is not JSON: the route streams it. */
export type RawContent = 'text/event-stream' | 'application/octet-stream' | 'text/plain' | 'text/html' | 'text/markdown';

export interface ApiRoute {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI style: `/v1/jobs/{id}`. */
  path: string;
  summary: string;
  tag: string;
  /** `public`: no token; `token`: any valid token; else the permission the role needs. */
  access: 'public' | 'token' | Permission;
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType | RawContent;
  /** The success status and what it carries (a schema is JSON). */
  status: number;
  response: z.ZodType | RawContent;
  /** Query parameters that are a credential (the stream ticket). */
  ticket?: boolean;
}

const jobId = { id: identifierSchema };
const checkpointRef = { ref: z.string().min(1).max(300).describe('ck-…, or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>') };
const healthSchema = z.object({ service: z.string(), status: z.literal('ok'), checks: z.record(z.string(), z.boolean()) }).strict().meta({ id: 'Health' });
const openApiDocumentSchema = z.object({ openapi: z.string() }).loose().meta({ id: 'OpenApiDocument' });

/**
 * Every route of the gateway, in one table: the OpenAPI document is generated from it, and a test
 * fails when a controller has a route this table lacks (or the other way round). Add a route's
 * entry here with its controller.
 */
export const API_ROUTES: ApiRoute[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness and dependencies (NATS, Redis)', tag: 'platform', access: 'public', status: 200, response: healthSchema },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics of the gateway process', tag: 'platform', access: 'token', status: 200, response: 'text/plain' },
  { method: 'get', path: '/v1/openapi.json', summary: 'This document', tag: 'platform', access: 'public', status: 200, response: openApiDocumentSchema },
  { method: 'get', path: '/docs', summary: 'The API documentation page (works offline)', tag: 'platform', access: 'public', status: 200, response: 'text/html' },
  {
    method: 'get',
    path: '/docs/{asset}',
    summary: 'Assets of the documentation page (served from the gateway, no CDN)',
    tag: 'platform',
    access: 'public',
    params: { asset: z.string().regex(/^[a-z0-9-]+\.(js|css|png)$/) },
    status: 200,
    response: 'application/octet-stream',
  },

  { method: 'get', path: '/v1/whoami', summary: 'The token\'s user and role', tag: 'auth', access: 'token', status: 200, response: principalSchema },
  { method: 'post', path: '/v1/tokens', summary: 'Create an API token (the secret is in this answer only)', tag: 'auth', access: 'token', body: createTokenRequestSchema, status: 201, response: createdApiTokenSchema },
  {
    method: 'get',
    path: '/v1/tokens',
    summary: 'Your tokens (admins: anyone\'s, or one user\'s)',
    tag: 'auth',
    access: 'token',
    query: z.object({ user: userNameSchema.optional(), ...pageQueryShape }),
    status: 200,
    response: tokenPageSchema,
  },
  { method: 'delete', path: '/v1/tokens/{id}', summary: 'Revoke a token at once', tag: 'auth', access: 'token', params: { id: apiTokenIdSchema }, status: 200, response: apiTokenSchema },
  {
    method: 'post',
    path: '/v1/stream-tickets',
    summary: 'A 60-second ticket for one event stream (`?ticket=`), for clients that cannot send headers',
    tag: 'auth',
    access: 'token',
    body: streamTicketRequestSchema,
    status: 201,
    response: streamTicketSchema,
  },
  { method: 'post', path: '/v1/users', summary: 'Create a user with a role', tag: 'auth', access: 'users:manage', body: createUserRequestSchema, status: 201, response: apiUserSchema },
  { method: 'get', path: '/v1/users', summary: 'List users', tag: 'auth', access: 'users:manage', query: z.object(pageQueryShape), status: 200, response: userPageSchema },
  {
    method: 'patch',
    path: '/v1/users/{name}',
    summary: 'Change a user\'s role, or disable / enable it (its tokens follow at once)',
    tag: 'auth',
    access: 'users:manage',
    params: { name: userNameSchema },
    body: updateUserRequestSchema,
    status: 200,
    response: apiUserSchema,
  },

  { method: 'post', path: '/v1/jobs', summary: 'Submit a training job (you own it)', tag: 'jobs', access: 'jobs:submit', body: trainingJobSpecSchema, status: 201, response: jobRecordSchema },
  {
    method: 'get',
    path: '/v1/jobs',
    summary: 'Jobs, newest first, a page at a time (users: their own)',
    tag: 'jobs',
    access: 'jobs:read',
    query: z.object({ state: jobStateSchema.optional(), owner: userNameSchema.optional(), ...pageQueryShape }),
    status: 200,
    response: jobPageSchema,
  },
  { method: 'get', path: '/v1/jobs/{id}', summary: 'A job with its queue position, pending reason and alerts', tag: 'jobs', access: 'jobs:read', params: jobId, status: 200, response: jobRecordSchema },
  {
    method: 'get',
    path: '/v1/jobs/{id}/metrics',
    summary: 'Stored, downsampled metric series of a job',
    tag: 'jobs',
    access: 'jobs:read',
    params: jobId,
    query: z.object({ name: z.string().optional(), from: z.coerce.number().int().min(0).optional(), to: z.coerce.number().int().min(0).optional() }),
    status: 200,
    response: jobMetricsSchema,
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    summary: 'Cancel a job (SIGTERM, grace period, SIGKILL)',
    tag: 'jobs',
    access: 'jobs:cancel',
    params: jobId,
    body: z.object({ graceSeconds: z.number().min(0).max(3600).optional() }).strict(),
    status: 202,
    response: jobRecordSchema,
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/events',
    summary: 'The job\'s events as server-sent events (state, status, progress, alerts) until it ends',
    tag: 'jobs',
    access: 'jobs:read',
    params: jobId,
    ticket: true,
    status: 200,
    response: 'text/event-stream',
  },
  {
    method: 'get',
    path: '/v1/queue',
    summary: 'Queued and running jobs of every user: place, demand, owner, no spec',
    tag: 'jobs',
    access: 'workers:read',
    query: z.object(pageQueryShape),
    status: 200,
    response: queuePageSchema,
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/logs',
    summary: 'An attempt\'s output of all ranks (`[rank N] …`) as text; `follow=true` streams it as server-sent events',
    tag: 'jobs',
    access: 'jobs:read',
    params: jobId,
    query: logsQuerySchema,
    ticket: true,
    status: 200,
    response: 'text/plain',
  },
  { method: 'get', path: '/v1/workers', summary: 'Workers, their GPUs and the jobs holding them', tag: 'workers', access: 'workers:read', query: z.object(pageQueryShape), status: 200, response: workerPageSchema },

  {
    method: 'get',
    path: '/v1/checkpoints',
    summary: 'A job\'s committed checkpoints, latest first',
    tag: 'checkpoints',
    access: 'checkpoints:read',
    query: z.object({ job: identifierSchema, ...pageQueryShape }),
    status: 200,
    response: checkpointPageSchema,
  },
  {
    method: 'post',
    path: '/v1/checkpoints/import',
    summary: 'Import a legacy .pth / Lightning .ckpt (the body is the file; Content-Length required)',
    tag: 'checkpoints',
    access: 'checkpoints:import',
    query: z.object({ fileName: z.string().min(1).max(256), format: legacyCheckpointFormatSchema.optional(), step: z.coerce.number().int().min(0).optional() }),
    body: 'application/octet-stream',
    status: 202,
    response: checkpointImportSchema,
  },
  {
    method: 'get',
    path: '/v1/code/{digest}',
    summary: 'Whether a project archive (hounsfield submit --code) is stored',
    tag: 'code',
    access: 'jobs:submit',
    params: { digest: codeDigestSchema },
    status: 200,
    response: codeStatSchema,
  },
  {
    method: 'post',
    path: '/v1/code/{digest}',
    summary: 'Store a project archive (a tar; Content-Length required) under its sha256, checked against the bytes',
    tag: 'code',
    access: 'jobs:submit',
    params: { digest: codeDigestSchema },
    body: 'application/octet-stream',
    status: 201,
    response: codeStatSchema,
  },
  { method: 'get', path: '/v1/checkpoints/{ref}', summary: 'A committed checkpoint', tag: 'checkpoints', access: 'checkpoints:read', params: checkpointRef, status: 200, response: checkpointRecordSchema },
  {
    method: 'get',
    path: '/v1/checkpoints/{ref}/download',
    summary: 'Short-lived read grants for every part of every file',
    tag: 'checkpoints',
    access: 'checkpoints:read',
    params: checkpointRef,
    status: 200,
    response: checkpointDownloadSchema,
  },
  {
    method: 'get',
    path: '/v1/checkpoints/{ref}/files/{name}',
    summary: 'One file, streamed (its sha256 in X-Checkpoint-Sha256)',
    tag: 'checkpoints',
    access: 'checkpoints:read',
    params: { ...checkpointRef, name: checkpointFileNameSchema },
    status: 200,
    response: 'application/octet-stream',
  },

  { method: 'post', path: '/v1/evaluations', summary: 'Evaluate checkpoints of your jobs on a dataset split (kind: pcdiff pair, vqgan3d, topo_unet, slice_interp)', tag: 'evaluations', access: 'evaluations:create', body: evaluationSpecSchema, status: 201, response: evaluationRecordSchema },
  {
    method: 'get',
    path: '/v1/evaluations/{id}/cases/{case}/{file}',
    summary: "A scored case's stored file: preview.png (three slices, implant in red), implant.nrrd, points.npy",
    tag: 'evaluations',
    access: 'evaluations:read',
    params: { id: identifierSchema, case: evaluationCaseIdSchema, file: evaluationArtifactRequestSchema.shape.file },
    status: 200,
    response: 'application/octet-stream',
  },
  {
    method: 'get',
    path: '/v1/evaluations',
    summary: 'Evaluations, newest first (a user sees its own)',
    tag: 'evaluations',
    access: 'evaluations:read',
    query: z.object({ owner: userNameSchema.optional(), ...pageQueryShape }),
    status: 200,
    response: evaluationPageSchema,
  },
  { method: 'get', path: '/v1/evaluations/{id}', summary: 'An evaluation: progress, ETA, summary', tag: 'evaluations', access: 'evaluations:read', params: jobId, status: 200, response: evaluationRecordSchema },
  {
    method: 'get',
    path: '/v1/evaluations/{id}/reports/{format}',
    summary: 'A report of a succeeded evaluation (markdown, yaml or csv)',
    tag: 'evaluations',
    access: 'evaluations:read',
    params: { ...jobId, format: evaluationReportFormatSchema },
    status: 200,
    response: 'text/plain',
  },
];
