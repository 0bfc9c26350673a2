"""Building and publishing assignments the way the scheduler does."""

from __future__ import annotations

import uuid
from typing import Any

from nats.js.client import JetStreamContext

from hounsfield.contracts.models import Assignment
from hounsfield.contracts.subjects import assign_subject
from hounsfield.sdk.report_format import utc_timestamp


def make_assignment(
    worker_id: str,
    *,
    job_id: str | None = None,
    module: str = "hounsfield.examples.count",
    args: list[str] | None = None,
    kind: str = "script",
    gpu_indices: list[int] | None = None,
    cuda_visible_devices: str = "",
    nproc: int = 1,
    global_batch: int = 32,
    env: dict[str, str] | None = None,
    attempt: int = 1,
) -> Assignment:
    job_id = job_id or f"job-{uuid.uuid4().hex[:10]}"
    spec: dict[str, Any] = {
        "name": job_id,
        "kind": kind,
        "resources": {"gpus": len(gpu_indices or []), "cpuProcesses": nproc, "waitForCapacity": False},
        "hyperparameters": {"globalBatch": global_batch, "baseLr": 0.05, "lrScaling": "linear", "seed": 0},
        "data": {"paths": []},
        "checkpoint": {"keepLast": 3},
        "priority": 0,
        "maxRestarts": 0,
        "config": {"preset": "tiny"},
        "env": env or {},
    }
    if kind == "script":
        spec["script"] = {"module": module, "args": args or []}
    return Assignment.model_validate(
        {
            "v": 1,
            "assignmentId": f"{job_id}:{attempt}:{uuid.uuid4().hex[:6]}",
            "jobId": job_id,
            "attempt": attempt,
            "workerId": worker_id,
            "spec": spec,
            "gpuIndices": gpu_indices or [],
            "cudaVisibleDevices": cuda_visible_devices,
            "nprocPerNode": nproc,
            "resolved": {
                "worldSize": nproc,
                "globalBatch": global_batch,
                "perDeviceBatch": global_batch // nproc,
                "gradAccumSteps": 1,
                "referenceBatch": global_batch,
                "baseLr": 0.05,
                "lrScaling": "linear",
                "lr": 0.05,
            },
            "issuedAt": utc_timestamp(),
        }
    )


async def publish_assignment(js: JetStreamContext, assignment: Assignment) -> None:
    await publish_raw(
        js,
        assignment.workerId,
        assignment.model_dump_json(exclude_none=True).encode(),
        assignment.assignmentId + ":" + uuid.uuid4().hex[:6],
    )


async def publish_raw(
    js: JetStreamContext, worker_id: str, payload: bytes, msg_id: str | None = None
) -> None:
    await js.publish(assign_subject(worker_id), payload, headers={"Nats-Msg-Id": msg_id or uuid.uuid4().hex})
