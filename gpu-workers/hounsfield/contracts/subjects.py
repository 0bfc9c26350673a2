# Generated from libs/contracts/src/subjects.ts by `npm run contracts:generate`. Do not edit.
"""NATS subjects, JetStream stream and consumer names shared with the TypeScript services."""

SCHEMA_VERSION = 1

STREAM_ASSIGN = "HF_ASSIGN"
STREAM_EVENTS = "HF_EVENTS"


def assign_subject(worker_id: str) -> str:
    return f"hf.assign.{worker_id}"


def worker_heartbeat_subject(worker_id: str) -> str:
    return f"hf.events.worker.{worker_id}.heartbeat"


def job_progress_subject(job_id: str) -> str:
    return f"hf.events.job.{job_id}.progress"


def job_status_subject(job_id: str) -> str:
    return f"hf.events.job.{job_id}.status"


def worker_consumer(worker_id: str) -> str:
    return "worker-" + worker_id + ""


def worker_cancel_subject(worker_id: str) -> str:
    return "hf.worker." + worker_id + ".cancel"


RPC_SUBMIT_JOB = "hf.rpc.scheduler.jobs.submit"
RPC_GET_JOB = "hf.rpc.scheduler.jobs.get"
