"""The report file: JSON lines a trainer (rank 0) appends and the worker agent tails.

One JSON object per line, written whole and flushed, so the agent never sees half a record once it
has read up to a newline. Every record carries ``v`` (this format's version), ``kind`` and ``at``
(ISO-8601 UTC). Field names are the camelCase names of the contracts so the agent can relay them
without renaming:

``{"v": 1, "kind": "runtime", "at": ..., "cudaVisibleDevices": "2,3", "worldSize": 2, "hostname": ...,
"pid": ...}``
    What the trainer process itself saw; written once by ``Run.from_env()``.

``{"v": 1, "kind": "progress", "at": ..., "step": 10, "metrics": {"loss": 0.5, "grad": "NaN"},
"epoch": 1.0, "totalSteps": 100, "lr": 0.001, "samplesPerSecond": 320.0, "dataWaitSeconds": 0.01,
"stepSeconds": 0.1}``
    One progress report; the optional fields are omitted when unknown.

``{"v": 1, "kind": "launch_error", "at": ..., "reason": "..."}``
    Written by the agent's launcher when the trainer cannot be started at all (module missing).

``{"v": 1, "kind": "notice", "at": ..., "notice": "warm_start", "level": "info", "message": "...",
"details": {...}}``
    Something the job's events should show (``Run.report_event``); relayed as a notice event.

``{"v": 1, "kind": "oom", "at": ..., "rank": 1, "perDeviceBatch": 16, "message": "..."}``
    A rank ran out of memory (CUDA or host); written by that rank (any rank) just before it exits
    with ``EXIT_OUT_OF_MEMORY``, so the agent reports the attempt with failure kind ``oom``.

JSON has no NaN or infinities, so metric values that are not finite are written as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (the contracts' metric value type).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

REPORT_FORMAT_VERSION = 1
KIND_RUNTIME = "runtime"
KIND_PROGRESS = "progress"
KIND_LAUNCH_ERROR = "launch_error"
KIND_NOTICE = "notice"
KIND_OOM = "oom"

#: A trainer's exit code after running out of memory (sysexits' EX_TEMPFAIL: retry later).
EXIT_OUT_OF_MEMORY = 75

MetricValue = float | str


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, as the contracts' timestamps expect."""
    return (moment or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


def encode_metric(value: Any) -> MetricValue:
    """A metric as JSON can carry it: finite floats stay numbers, the rest become the agreed strings.

    Accepts anything ``float()`` accepts (ints, numpy scalars, 0-d tensors).
    """
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _record(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"v": REPORT_FORMAT_VERSION, "kind": kind, "at": utc_timestamp(), **fields}


def runtime_record(*, cuda_visible_devices: str, world_size: int, hostname: str, pid: int) -> dict[str, Any]:
    return _record(
        KIND_RUNTIME,
        {
            "cudaVisibleDevices": cuda_visible_devices,
            "worldSize": world_size,
            "hostname": hostname,
            "pid": pid,
        },
    )


def progress_record(
    *,
    step: int,
    metrics: dict[str, MetricValue],
    epoch: float | None = None,
    total_steps: int | None = None,
    lr: float | None = None,
    samples_per_second: float | None = None,
    data_wait_seconds: float | None = None,
    step_seconds: float | None = None,
) -> dict[str, Any]:
    optional = {
        "epoch": epoch,
        "totalSteps": total_steps,
        "lr": lr,
        "samplesPerSecond": samples_per_second,
        "dataWaitSeconds": data_wait_seconds,
        "stepSeconds": step_seconds,
    }
    fields: dict[str, Any] = {"step": step, "metrics": metrics}
    fields.update({name: value for name, value in optional.items() if value is not None})
    return _record(KIND_PROGRESS, fields)


def launch_error_record(reason: str) -> dict[str, Any]:
    return _record(KIND_LAUNCH_ERROR, {"reason": reason})


def notice_record(notice: str, message: str, details: dict[str, Any], level: str = "info") -> dict[str, Any]:
    return _record(
        KIND_NOTICE, {"notice": notice, "level": level, "message": message[:4096], "details": details}
    )


def oom_record(rank: int, per_device_batch: int | None, message: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"rank": rank, "message": message[:4096]}
    if per_device_batch is not None:
        fields["perDeviceBatch"] = per_device_batch
    return _record(KIND_OOM, fields)


def dumps_record(record: dict[str, Any]) -> str:
    """One line of the report file (without the newline); refuses NaN so nothing invalid slips out."""
    return json.dumps(record, allow_nan=False, separators=(",", ":"))
