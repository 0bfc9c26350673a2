import { z } from 'zod';
import { alertEventSchema } from './alert-event.schema';
import { assignmentSchema, nodePlacementSchema } from './assignment.schema';
import { attemptCurrentReplySchema, attemptCurrentRequestSchema } from './attempt-current.schema';
import { checkpointEventSchema } from './checkpoint-event.schema';
import { accessGrantSchema } from './checkpoint-grant.schema';
import { checkpointFileSchema, checkpointManifestSchema } from './checkpoint-manifest.schema';
import { checkpointMetaSchema } from './checkpoint-meta.schema';
import { checkpointRecordSchema } from './checkpoint-record.schema';
import {
  checkpointCommitRequestSchema,
  checkpointEvaluationUpdateSchema,
  checkpointImportSchema,
  checkpointImportSourceRequestSchema,
  checkpointPartRequestSchema,
  checkpointPartUploadedSchema,
  checkpointPartVerifiedSchema,
  checkpointResolveRequestSchema,
  checkpointUploadRequestSchema,
  checkpointUploadSessionSchema,
} from './checkpoint-rpc.schema';
import { evaluationCaseResultSchema, evaluationCaseSchema } from './evaluation-case.schema';
import { evaluationModelsSchema, pcdiffEvaluationModelsSchema, volumeEvaluationModelsSchema } from './evaluation-record.schema';
import {
  evaluationArtifactRequestSchema,
  evaluationIdRequestSchema,
  evaluationPlanReplySchema,
  evaluationPlanRequestSchema,
  evaluationResultReplySchema,
  evaluationShardContextSchema,
} from './evaluation-rpc.schema';
import {
  evaluationCaseEventSchema,
  evaluationFailedEventSchema,
  evaluationPlannedEventSchema,
  evaluationSucceededEventSchema,
} from './evaluation-event.schema';
import {
  evaluationCheckpointSchema,
  evaluationDatasetSchema,
  evaluationPostprocessSchema,
  evaluationSamplerSchema,
  evaluationSpecSchema,
  pcdiffEvaluationSpecSchema,
  preparedVolumesDatasetSchema,
  sliceInterpEvaluationSpecSchema,
  topoUnetDatasetSchema,
  topoUnetEvaluationSpecSchema,
  vqgan3dEvaluationSpecSchema,
} from './evaluation-spec.schema';
import { attemptSummarySchema, jobNodeSchema, jobRecordSchema, jobRendezvousSchema } from './job-record.schema';
import { logFollowEndSchema, logLineEventSchema } from './log-follow-event.schema';
import { logLineSchema, logSourceSchema } from './log-line.schema';
import { logEndMessageSchema, logLinesMessageSchema } from './log-live.schema';
import { logReadReplySchema, logReadRequestSchema } from './log-read.schema';
import { logAttemptSummarySchema, logSegmentCommitSchema, logSegmentGrantRequestSchema } from './log-segment.schema';
import { checkpointImportJobSpecSchema, evaluationShardJobSpecSchema, initFromSchema, jobSpecSchema, trainingJobSpecSchema } from './job-spec.schema';
import { progressEventSchema } from './progress-event.schema';
import { codeReferenceSchema, codeSourceRequestSchema, environmentEventSchema, jobEnvironmentSchema, jobEnvironmentStatusSchema } from './code.schema';
import { resolvedHyperparametersSchema } from './resolved-hyperparameters.schema';
import { runtimeInfoSchema, statusEventSchema } from './status-event.schema';
import { jobStateEventSchema } from './job-state-event.schema';
import { jobNoticeEventSchema } from './job-notice-event.schema';
import { trainerContextSchema, trainerPathsSchema } from './trainer-context.schema';
import { workerCancelReplySchema, workerCancelRequestSchema } from './worker-cancel.schema';
import { gpuInfoSchema, workerHeartbeatSchema, workerKindSchema } from './worker-heartbeat.schema';

/** The schemas other languages consume, keyed by the name their generated models take. */
export const EXPORTED_SCHEMAS = {
  InitFrom: initFromSchema,
  JobSpec: jobSpecSchema,
  TrainingJobSpec: trainingJobSpecSchema,
  EvaluationShardJobSpec: evaluationShardJobSpecSchema,
  CheckpointImportJobSpec: checkpointImportJobSpecSchema,
  ResolvedHyperparameters: resolvedHyperparametersSchema,
  NodePlacement: nodePlacementSchema,
  Assignment: assignmentSchema,
  TrainerPaths: trainerPathsSchema,
  TrainerContext: trainerContextSchema,
  ProgressEvent: progressEventSchema,
  RuntimeInfo: runtimeInfoSchema,
  StatusEvent: statusEventSchema,
  GpuInfo: gpuInfoSchema,
  WorkerKind: workerKindSchema,
  WorkerHeartbeat: workerHeartbeatSchema,
  AttemptSummary: attemptSummarySchema,
  JobNode: jobNodeSchema,
  JobRendezvous: jobRendezvousSchema,
  JobRecord: jobRecordSchema,
  JobStateEvent: jobStateEventSchema,
  JobNoticeEvent: jobNoticeEventSchema,
  AlertEvent: alertEventSchema,
  WorkerCancelRequest: workerCancelRequestSchema,
  WorkerCancelReply: workerCancelReplySchema,
  AttemptCurrentRequest: attemptCurrentRequestSchema,
  AttemptCurrentReply: attemptCurrentReplySchema,
  CheckpointMeta: checkpointMetaSchema,
  CheckpointFile: checkpointFileSchema,
  CheckpointManifest: checkpointManifestSchema,
  AccessGrant: accessGrantSchema,
  CheckpointRecord: checkpointRecordSchema,
  CheckpointEvent: checkpointEventSchema,
  CheckpointUploadRequest: checkpointUploadRequestSchema,
  CheckpointUploadSession: checkpointUploadSessionSchema,
  CheckpointPartRequest: checkpointPartRequestSchema,
  CheckpointPartUploaded: checkpointPartUploadedSchema,
  CheckpointPartVerified: checkpointPartVerifiedSchema,
  CheckpointCommitRequest: checkpointCommitRequestSchema,
  CheckpointResolveRequest: checkpointResolveRequestSchema,
  CheckpointImport: checkpointImportSchema,
  CheckpointImportSourceRequest: checkpointImportSourceRequestSchema,
  CheckpointEvaluationUpdate: checkpointEvaluationUpdateSchema,
  CodeReference: codeReferenceSchema,
  JobEnvironment: jobEnvironmentSchema,
  JobEnvironmentStatus: jobEnvironmentStatusSchema,
  EnvironmentEvent: environmentEventSchema,
  CodeSourceRequest: codeSourceRequestSchema,
  EvaluationSpec: evaluationSpecSchema,
  PcdiffEvaluationSpec: pcdiffEvaluationSpecSchema,
  Vqgan3dEvaluationSpec: vqgan3dEvaluationSpecSchema,
  TopoUnetEvaluationSpec: topoUnetEvaluationSpecSchema,
  SliceInterpEvaluationSpec: sliceInterpEvaluationSpecSchema,
  PreparedVolumesDataset: preparedVolumesDatasetSchema,
  TopoUnetDataset: topoUnetDatasetSchema,
  EvaluationModels: evaluationModelsSchema,
  PcdiffEvaluationModels: pcdiffEvaluationModelsSchema,
  VolumeEvaluationModels: volumeEvaluationModelsSchema,
  // Shared by EvaluationSpec and JobSpec.evaluation (auto-evaluation): one definition, one Python class.
  EvaluationCheckpoint: evaluationCheckpointSchema,
  EvaluationDataset: evaluationDatasetSchema,
  EvaluationSampler: evaluationSamplerSchema,
  EvaluationPostprocess: evaluationPostprocessSchema,
  EvaluationCase: evaluationCaseSchema,
  EvaluationCaseResult: evaluationCaseResultSchema,
  EvaluationIdRequest: evaluationIdRequestSchema,
  EvaluationShardContext: evaluationShardContextSchema,
  EvaluationPlanRequest: evaluationPlanRequestSchema,
  EvaluationPlanReply: evaluationPlanReplySchema,
  EvaluationArtifactRequest: evaluationArtifactRequestSchema,
  EvaluationResultReply: evaluationResultReplySchema,
  EvaluationPlannedEvent: evaluationPlannedEventSchema,
  EvaluationCaseEvent: evaluationCaseEventSchema,
  EvaluationSucceededEvent: evaluationSucceededEventSchema,
  EvaluationFailedEvent: evaluationFailedEventSchema,
  LogSource: logSourceSchema,
  LogLine: logLineSchema,
  LogLinesMessage: logLinesMessageSchema,
  LogEndMessage: logEndMessageSchema,
  LogSegmentGrantRequest: logSegmentGrantRequestSchema,
  LogSegmentCommit: logSegmentCommitSchema,
  LogAttemptSummary: logAttemptSummarySchema,
  LogReadRequest: logReadRequestSchema,
  LogReadReply: logReadReplySchema,
  LogLineEvent: logLineEventSchema,
  LogFollowEnd: logFollowEndSchema,
} as const;

/**
 * One JSON Schema document with every exported schema under `$defs`, references between them as
 * `#/$defs/<Name>`. Validated output shapes (defaults applied) are what crosses the wire.
 */
export function buildJsonSchemaDocument(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(EXPORTED_SCHEMAS)) {
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/$defs/${id}`, target: 'draft-2020-12', io: 'input' }) as {
    schemas: Record<string, Record<string, unknown>>;
  };
  const defs: Record<string, unknown> = {};
  for (const id of Object.keys(EXPORTED_SCHEMAS)) {
    const { $schema: _schema, $id: _id, ...rest } = schemas[id];
    defs[id] = rest;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://hounsfield.dev/schemas/contracts.json',
    title: 'HounsfieldContracts',
    description: 'Generated from libs/contracts (zod). Do not edit; run `npm run contracts:generate`.',
    $defs: defs,
  };
}
