import { z } from 'zod';
import { alertEventSchema } from './alert-event.schema';
import { attemptCurrentReplySchema, attemptCurrentRequestSchema } from './attempt-current.schema';
import { accessGrantSchema } from './checkpoint-grant.schema';
import { checkpointRecordSchema } from './checkpoint-record.schema';
import {
  checkpointCommitRequestSchema,
  checkpointEvaluationUpdateSchema,
  checkpointImportSchema,
  checkpointImportSourceRequestSchema,
  checkpointImportStartRequestSchema,
  checkpointImportUploadRequestSchema,
  checkpointImportUploadSchema,
  checkpointListRequestSchema,
  checkpointPageSchema,
  checkpointPartRequestSchema,
  checkpointPartUploadedSchema,
  checkpointPartVerifiedSchema,
  checkpointResolveRequestSchema,
  checkpointUploadRequestSchema,
  checkpointUploadSessionSchema,
} from './checkpoint-rpc.schema';
import { codeCommitRequestSchema, codeSourceRequestSchema, codeStatRequestSchema, codeStatSchema, codeUploadRequestSchema, codeUploadSchema } from './code.schema';
import { evaluationCaseResultSchema } from './evaluation-case.schema';
import { evaluationRecordSchema } from './evaluation-record.schema';
import {
  evaluationArtifactGrantSchema,
  evaluationArtifactRequestSchema,
  evaluationCreateRequestSchema,
  evaluationIdRequestSchema,
  evaluationListRequestSchema,
  evaluationPageSchema,
  evaluationPlanReplySchema,
  evaluationPlanRequestSchema,
  evaluationReportRequestSchema,
  evaluationResultReplySchema,
  evaluationShardContextSchema,
} from './evaluation-rpc.schema';
import { jobRecordSchema } from './job-record.schema';
import { logReadReplySchema, logReadRequestSchema } from './log-read.schema';
import { logAttemptSummarySchema, logSegmentCommitSchema, logSegmentGrantRequestSchema } from './log-segment.schema';
import { jobMetricsSchema, metricSeriesRequestSchema } from './metric-series.schema';
import { cancelJobRequestSchema, failJobRequestSchema, jobIdRequestSchema, jobPageSchema, listJobsRequestSchema, submitJobRequestSchema } from './rpc.schema';
import { RPC, WORKER_RPC, workerCancelSubject, WorkerRpcCall } from './subjects';
import { workerCancelReplySchema, workerCancelRequestSchema } from './worker-cancel.schema';
import { workerViewSchema } from './worker-view.schema';

/** One request/reply call between services: its subject, what it takes and what it answers. */
export interface RpcEntry<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly reply: Rep;
}

/** One call a worker makes, on its own subject `hf.rpc.w.<worker>.<call>` (see `WORKER_RPC`). */
export interface WorkerRpcEntry<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly call: WorkerRpcCall;
  readonly request: Req;
  readonly reply: Rep;
}

/** A request without fields. */
export const emptyRequestSchema = z.object({}).strict();

const rpc = <Req extends z.ZodType, Rep extends z.ZodType>(subject: string, request: Req, reply: Rep): RpcEntry<Req, Rep> => ({ subject, request, reply });
const workerRpc = <Req extends z.ZodType, Rep extends z.ZodType>(call: WorkerRpcCall, request: Req, reply: Rep): WorkerRpcEntry<Req, Rep> => ({
  call,
  request,
  reply,
});

/**
 * Every call between services, typed both ways: `serveRpc` validates the request and its own
 * reply, `requestRpc` the payload it sends and the reply it gets. The Python table
 * (`hounsfield.contracts.rpc`) is generated from these, with a drift test.
 */
export const SERVICE_RPCS = {
  submitJob: rpc(RPC.submitJob, submitJobRequestSchema, jobRecordSchema),
  getJob: rpc(RPC.getJob, jobIdRequestSchema, jobRecordSchema),
  listJobs: rpc(RPC.listJobs, listJobsRequestSchema, jobPageSchema),
  cancelJob: rpc(RPC.cancelJob, cancelJobRequestSchema, jobRecordSchema),
  failJob: rpc(RPC.failJob, failJobRequestSchema, jobRecordSchema),
  listWorkers: rpc(RPC.listWorkers, emptyRequestSchema, z.array(workerViewSchema)),
  jobMetrics: rpc(RPC.jobMetrics, metricSeriesRequestSchema, jobMetricsSchema),
  jobAlerts: rpc(RPC.jobAlerts, jobIdRequestSchema, z.array(alertEventSchema)),
  checkpointsResolve: rpc(RPC.checkpointsResolve, checkpointResolveRequestSchema, checkpointRecordSchema),
  checkpointsList: rpc(RPC.checkpointsList, checkpointListRequestSchema, checkpointPageSchema),
  checkpointsDownloadPart: rpc(RPC.checkpointsDownloadPart, checkpointPartRequestSchema, accessGrantSchema),
  checkpointsImportUpload: rpc(RPC.checkpointsImportUpload, checkpointImportUploadRequestSchema, checkpointImportUploadSchema),
  checkpointsImportStart: rpc(RPC.checkpointsImportStart, checkpointImportStartRequestSchema, checkpointImportSchema),
  checkpointsEvaluation: rpc(RPC.checkpointsEvaluation, checkpointEvaluationUpdateSchema, checkpointRecordSchema),
  codeStat: rpc(RPC.codeStat, codeStatRequestSchema, codeStatSchema),
  codeUpload: rpc(RPC.codeUpload, codeUploadRequestSchema, codeUploadSchema),
  codeCommit: rpc(RPC.codeCommit, codeCommitRequestSchema, codeStatSchema),
  logsRead: rpc(RPC.logsRead, logReadRequestSchema, logReadReplySchema),
  evaluationsCreate: rpc(RPC.evaluationsCreate, evaluationCreateRequestSchema, evaluationRecordSchema),
  evaluationsGet: rpc(RPC.evaluationsGet, evaluationIdRequestSchema, evaluationRecordSchema),
  evaluationsList: rpc(RPC.evaluationsList, evaluationListRequestSchema, evaluationPageSchema),
  evaluationsCaseFile: rpc(RPC.evaluationsCaseFile, evaluationArtifactRequestSchema, accessGrantSchema),
  evaluationsReport: rpc(RPC.evaluationsReport, evaluationReportRequestSchema, accessGrantSchema),
} as const satisfies Record<keyof typeof RPC, RpcEntry>;

/** Every call a worker (the agent, or a built-in task) makes to a service. */
export const WORKER_RPCS = {
  checkpointsUploadBegin: workerRpc(WORKER_RPC.checkpointsUploadBegin, checkpointUploadRequestSchema, checkpointUploadSessionSchema),
  checkpointsUploadPart: workerRpc(WORKER_RPC.checkpointsUploadPart, checkpointPartRequestSchema, accessGrantSchema),
  checkpointsPartUploaded: workerRpc(WORKER_RPC.checkpointsPartUploaded, checkpointPartUploadedSchema, checkpointPartVerifiedSchema),
  checkpointsCommit: workerRpc(WORKER_RPC.checkpointsCommit, checkpointCommitRequestSchema, checkpointRecordSchema),
  checkpointsResolve: workerRpc(WORKER_RPC.checkpointsResolve, checkpointResolveRequestSchema, checkpointRecordSchema),
  checkpointsDownloadPart: workerRpc(WORKER_RPC.checkpointsDownloadPart, checkpointPartRequestSchema, accessGrantSchema),
  checkpointsImportSource: workerRpc(WORKER_RPC.checkpointsImportSource, checkpointImportSourceRequestSchema, accessGrantSchema),
  codeSource: workerRpc(WORKER_RPC.codeSource, codeSourceRequestSchema, accessGrantSchema),
  attemptCurrent: workerRpc(WORKER_RPC.attemptCurrent, attemptCurrentRequestSchema, attemptCurrentReplySchema),
  evaluationsShardContext: workerRpc(WORKER_RPC.evaluationsShardContext, evaluationIdRequestSchema, evaluationShardContextSchema),
  evaluationsPlan: workerRpc(WORKER_RPC.evaluationsPlan, evaluationPlanRequestSchema, evaluationPlanReplySchema),
  evaluationsArtifact: workerRpc(WORKER_RPC.evaluationsArtifact, evaluationArtifactRequestSchema, evaluationArtifactGrantSchema),
  evaluationsResult: workerRpc(WORKER_RPC.evaluationsResult, evaluationCaseResultSchema, evaluationResultReplySchema),
  logsSegmentGrant: workerRpc(WORKER_RPC.logsSegmentGrant, logSegmentGrantRequestSchema, accessGrantSchema),
  logsSegmentCommit: workerRpc(WORKER_RPC.logsSegmentCommit, logSegmentCommitSchema, logAttemptSummarySchema),
} as const satisfies Record<keyof typeof WORKER_RPC, WorkerRpcEntry>;

/** A call a worker serves on a subject of its own; the reply is the bare reply schema (no envelope). */
export interface WorkerServedEntry<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly subject: (workerId: string) => string;
  readonly request: Req;
  readonly reply: Rep;
}

/** Calls a worker serves (core NATS): the scheduler's cancellation of an attempt. */
export const WORKER_SERVED_RPCS = {
  cancel: { subject: workerCancelSubject, request: workerCancelRequestSchema, reply: workerCancelReplySchema },
} as const satisfies Record<string, WorkerServedEntry>;
