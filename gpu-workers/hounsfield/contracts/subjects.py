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


def worker_consumer(worker_id: str) -> str:
    return "worker-" + worker_id + ""


def worker_cancel_subject(worker_id: str) -> str:
    return "hf.worker." + worker_id + ".cancel"


RPC_SUBMIT_JOB = "hf.rpc.scheduler.jobs.submit"
RPC_GET_JOB = "hf.rpc.scheduler.jobs.get"

RPC_CHECKPOINTS_UPLOAD_BEGIN = "hf.rpc.checkpoints.uploads.begin"
RPC_CHECKPOINTS_UPLOAD_PART = "hf.rpc.checkpoints.uploads.part"
RPC_CHECKPOINTS_PART_UPLOADED = "hf.rpc.checkpoints.uploads.part-uploaded"
RPC_CHECKPOINTS_COMMIT = "hf.rpc.checkpoints.uploads.commit"
RPC_CHECKPOINTS_RESOLVE = "hf.rpc.checkpoints.resolve"
RPC_CHECKPOINTS_LIST = "hf.rpc.checkpoints.list"
RPC_CHECKPOINTS_DOWNLOAD_PART = "hf.rpc.checkpoints.download.part"
RPC_CHECKPOINTS_IMPORT_UPLOAD = "hf.rpc.checkpoints.imports.upload"
RPC_CHECKPOINTS_IMPORT_START = "hf.rpc.checkpoints.imports.start"
RPC_CHECKPOINTS_EVALUATION = "hf.rpc.checkpoints.evaluation"


def checkpoint_events_subject(job_id: str) -> str:
    return "hf.events.checkpoint." + job_id + ""


RPC_LOGS_SEGMENT_GRANT = "hf.rpc.checkpoints.logs.grant"
RPC_LOGS_SEGMENT_COMMIT = "hf.rpc.checkpoints.logs.commit"
RPC_LOGS_READ = "hf.rpc.checkpoints.logs.read"


def job_logs_subject(job_id: str, attempt: int) -> str:
    return f"hf.logs.{job_id}.{attempt}"


RPC_EVALUATIONS_CREATE = "hf.rpc.evaluation.create"
RPC_EVALUATIONS_GET = "hf.rpc.evaluation.get"
RPC_EVALUATIONS_SHARD_CONTEXT = "hf.rpc.evaluation.shards.context"
RPC_EVALUATIONS_PLAN = "hf.rpc.evaluation.shards.plan"
RPC_EVALUATIONS_ARTIFACT = "hf.rpc.evaluation.shards.artifact"
RPC_EVALUATIONS_RESULT = "hf.rpc.evaluation.shards.result"


def evaluation_cases_subject(evaluation_id: str) -> str:
    return "hf.eval." + evaluation_id + ".cases"


def evaluation_consumer(evaluation_id: str) -> str:
    return "eval-" + evaluation_id + ""
