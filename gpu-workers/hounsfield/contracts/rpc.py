# Generated from libs/contracts/src/rpc-table.ts by `npm run contracts:generate`. Do not edit.
"""The RPC table: every call's subject, with the models of its request and reply (None: no model of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from hounsfield.contracts import models

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=BaseModel)


@dataclass(frozen=True)
class ServiceRpc(Generic[Req, Rep]):
    """A call between services, on one subject (a queue group of the serving service answers)."""

    subject: str
    request: type[Req] | None
    reply: type[Rep] | None


@dataclass(frozen=True)
class WorkerRpc(Generic[Req, Rep]):
    """A call a worker makes, on its own subject (only that worker may publish there)."""

    call: str
    request: type[Req] | None
    reply: type[Rep] | None

    def subject(self, worker_id: str) -> str:
        return f"hf.rpc.w.{worker_id}.{self.call}"


@dataclass(frozen=True)
class WorkerServedRpc(Generic[Req, Rep]):
    """A call a worker serves on a subject of its own; the reply is the bare reply (no envelope)."""

    subject_template: str
    request: type[Req] | None
    reply: type[Rep] | None

    def subject(self, worker_id: str) -> str:
        return self.subject_template.format(worker_id=worker_id)


SUBMIT_JOB: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.jobs.submit", None, models.JobRecord)
GET_JOB: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.jobs.get", None, models.JobRecord)
LIST_JOBS: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.jobs.list", None, None)
CANCEL_JOB: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.jobs.cancel", None, models.JobRecord)
FAIL_JOB: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.jobs.fail", None, models.JobRecord)
LIST_WORKERS: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.scheduler.workers.list", None, None)
JOB_METRICS: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.metrics.jobs.series", None, None)
JOB_ALERTS: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.metrics.jobs.alerts", None, None)
CHECKPOINTS_RESOLVE = ServiceRpc("hf.rpc.checkpoints.resolve", models.CheckpointResolveRequest, models.CheckpointRecord)
CHECKPOINTS_LIST: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.list", None, None)
CHECKPOINTS_DOWNLOAD_PART = ServiceRpc("hf.rpc.checkpoints.download.part", models.CheckpointPartRequest, models.AccessGrant)
CHECKPOINTS_IMPORT_UPLOAD: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.imports.upload", None, None)
CHECKPOINTS_IMPORT_START: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.imports.start", None, models.CheckpointImport)
CHECKPOINTS_EVALUATION = ServiceRpc("hf.rpc.checkpoints.evaluation", models.CheckpointEvaluationUpdate, models.CheckpointRecord)
CODE_STAT: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.code.stat", None, None)
CODE_UPLOAD: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.code.upload", None, None)
CODE_COMMIT: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.checkpoints.code.commit", None, None)
LOGS_READ = ServiceRpc("hf.rpc.checkpoints.logs.read", models.LogReadRequest, models.LogReadReply)
EVALUATIONS_CREATE: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.evaluation.create", None, None)
EVALUATIONS_GET: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.evaluation.get", models.EvaluationIdRequest, None)
EVALUATIONS_LIST: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.evaluation.list", None, None)
EVALUATIONS_CASE_FILE = ServiceRpc("hf.rpc.evaluation.cases.file", models.EvaluationArtifactRequest, models.AccessGrant)
EVALUATIONS_REPORT: ServiceRpc[Any, Any] = ServiceRpc("hf.rpc.evaluation.report", None, models.AccessGrant)

WORKER_CHECKPOINTS_UPLOAD_BEGIN = WorkerRpc("checkpoints.uploads.begin", models.CheckpointUploadRequest, models.CheckpointUploadSession)
WORKER_CHECKPOINTS_UPLOAD_PART = WorkerRpc("checkpoints.uploads.part", models.CheckpointPartRequest, models.AccessGrant)
WORKER_CHECKPOINTS_PART_UPLOADED = WorkerRpc("checkpoints.uploads.part-uploaded", models.CheckpointPartUploaded, models.CheckpointPartVerified)
WORKER_CHECKPOINTS_COMMIT = WorkerRpc("checkpoints.uploads.commit", models.CheckpointCommitRequest, models.CheckpointRecord)
WORKER_CHECKPOINTS_RESOLVE = WorkerRpc("checkpoints.resolve", models.CheckpointResolveRequest, models.CheckpointRecord)
WORKER_CHECKPOINTS_DOWNLOAD_PART = WorkerRpc("checkpoints.download.part", models.CheckpointPartRequest, models.AccessGrant)
WORKER_CHECKPOINTS_IMPORT_SOURCE = WorkerRpc("checkpoints.imports.source", models.CheckpointImportSourceRequest, models.AccessGrant)
WORKER_CODE_SOURCE = WorkerRpc("checkpoints.code.source", models.CodeSourceRequest, models.AccessGrant)
WORKER_ATTEMPT_CURRENT = WorkerRpc("scheduler.attempts.current", models.AttemptCurrentRequest, models.AttemptCurrentReply)
WORKER_EVALUATIONS_SHARD_CONTEXT = WorkerRpc("evaluation.shards.context", models.EvaluationIdRequest, models.EvaluationShardContext)
WORKER_EVALUATIONS_PLAN = WorkerRpc("evaluation.shards.plan", models.EvaluationPlanRequest, models.EvaluationPlanReply)
WORKER_EVALUATIONS_ARTIFACT: WorkerRpc[Any, Any] = WorkerRpc("evaluation.shards.artifact", models.EvaluationArtifactRequest, None)
WORKER_EVALUATIONS_RESULT = WorkerRpc("evaluation.shards.result", models.EvaluationCaseResult, models.EvaluationResultReply)
WORKER_LOGS_SEGMENT_GRANT = WorkerRpc("checkpoints.logs.grant", models.LogSegmentGrantRequest, models.AccessGrant)
WORKER_LOGS_SEGMENT_COMMIT = WorkerRpc("checkpoints.logs.commit", models.LogSegmentCommit, models.LogAttemptSummary)

WORKER_SERVED_CANCEL = WorkerServedRpc("hf.worker.{worker_id}.cancel", models.WorkerCancelRequest, models.WorkerCancelReply)
