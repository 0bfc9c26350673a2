# Generated from libs/contracts/src/subjects.ts by `npm run contracts:generate`. Do not edit.
"""NATS subjects, JetStream stream and consumer names shared with the TypeScript services."""

SCHEMA_VERSION = 1

STREAM_ASSIGN = "HF_ASSIGN"
STREAM_EVENTS = "HF_EVENTS"
STREAM_EVAL = "HF_EVAL"
STREAM_LOGS = "HF_LOGS"


def assign_subject(worker_id: str) -> str:
    return f"hf.assign.{worker_id}"


def worker_heartbeat_subject(worker_id: str) -> str:
    return f"hf.events.worker.{worker_id}.heartbeat"


def job_progress_subject(job_id: str) -> str:
    return f"hf.events.job.{job_id}.progress"


def job_status_subject(job_id: str) -> str:
    return f"hf.events.job.{job_id}.status"


def job_notice_subject(job_id: str) -> str:
    return "hf.events.job." + job_id + ".notice"


def job_environment_subject(job_id: str) -> str:
    return "hf.events.job." + job_id + ".environment"


def worker_consumer(worker_id: str) -> str:
    return "worker-" + worker_id + ""


def worker_cancel_subject(worker_id: str) -> str:
    return "hf.worker." + worker_id + ".cancel"


RPC_SUBMIT_JOB = "hf.rpc.scheduler.jobs.submit"
RPC_GET_JOB = "hf.rpc.scheduler.jobs.get"

RPC_CHECKPOINTS_RESOLVE = "hf.rpc.checkpoints.resolve"
RPC_CHECKPOINTS_LIST = "hf.rpc.checkpoints.list"
RPC_CHECKPOINTS_DOWNLOAD_PART = "hf.rpc.checkpoints.download.part"
RPC_CHECKPOINTS_IMPORT_UPLOAD = "hf.rpc.checkpoints.imports.upload"
RPC_CHECKPOINTS_IMPORT_START = "hf.rpc.checkpoints.imports.start"
RPC_CHECKPOINTS_EVALUATION = "hf.rpc.checkpoints.evaluation"


def checkpoint_events_subject(job_id: str) -> str:
    return "hf.events.checkpoint." + job_id + ""


RPC_LOGS_READ = "hf.rpc.checkpoints.logs.read"


def job_logs_subject(job_id: str, attempt: int) -> str:
    return f"hf.logs.{job_id}.{attempt}"


RPC_EVALUATIONS_CREATE = "hf.rpc.evaluation.create"
RPC_EVALUATIONS_GET = "hf.rpc.evaluation.get"
RPC_EVALUATIONS_LIST = "hf.rpc.evaluation.list"
RPC_EVALUATIONS_CASE_FILE = "hf.rpc.evaluation.cases.file"
RPC_EVALUATIONS_REPORT = "hf.rpc.evaluation.report"


def evaluation_cases_subject(evaluation_id: str) -> str:
    return "hf.eval." + evaluation_id + ".cases"


def evaluation_consumer(evaluation_id: str) -> str:
    return "eval-" + evaluation_id + ""


# Worker calls: sent on hf.rpc.w.<worker>.<call>, which only that worker may publish on.
WORKER_RPC_CHECKPOINTS_UPLOAD_BEGIN = "checkpoints.uploads.begin"
WORKER_RPC_CHECKPOINTS_UPLOAD_PART = "checkpoints.uploads.part"
WORKER_RPC_CHECKPOINTS_PART_UPLOADED = "checkpoints.uploads.part-uploaded"
WORKER_RPC_CHECKPOINTS_COMMIT = "checkpoints.uploads.commit"
WORKER_RPC_CHECKPOINTS_RESOLVE = "checkpoints.resolve"
WORKER_RPC_CHECKPOINTS_DOWNLOAD_PART = "checkpoints.download.part"
WORKER_RPC_CHECKPOINTS_IMPORT_SOURCE = "checkpoints.imports.source"
WORKER_RPC_CODE_SOURCE = "checkpoints.code.source"
WORKER_RPC_EVALUATIONS_SHARD_CONTEXT = "evaluation.shards.context"
WORKER_RPC_EVALUATIONS_PLAN = "evaluation.shards.plan"
WORKER_RPC_EVALUATIONS_ARTIFACT = "evaluation.shards.artifact"
WORKER_RPC_EVALUATIONS_RESULT = "evaluation.shards.result"
WORKER_RPC_LOGS_SEGMENT_GRANT = "checkpoints.logs.grant"
WORKER_RPC_LOGS_SEGMENT_COMMIT = "checkpoints.logs.commit"
WORKER_RPC_ATTEMPT_CURRENT = "scheduler.attempts.current"


def worker_rpc_subject(worker_id: str, call: str) -> str:
    return f"hf.rpc.w.{worker_id}.{call}"


def inbox_prefix(nats_user: str) -> str:
    """Replies come to _INBOX.<user>.<id>: each NATS user may read its own inboxes only."""
    return f"_INBOX.{nats_user}"
