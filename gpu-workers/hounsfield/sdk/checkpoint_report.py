"""The report-file record that tells the worker agent a checkpoint directory is complete.

``{"v": 1, "kind": "checkpoint", "at": ..., "step": 1200, "path": "/abs/output/checkpoints/step-000001200"}``

Rank 0 appends it after the directory was renamed into place; the agent then uploads the
directory, commits it with the checkpoints service, and prunes older local copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hounsfield.sdk.report_format import REPORT_FORMAT_VERSION, utc_timestamp

KIND_CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path


def checkpoint_record(step: int, path: Path) -> dict[str, Any]:
    return {
        "v": REPORT_FORMAT_VERSION,
        "kind": KIND_CHECKPOINT,
        "at": utc_timestamp(),
        "step": step,
        "path": str(path.resolve()),
    }


def decode_checkpoint_line(line: str) -> CheckpointSaved | None:
    """The checkpoint a report line announces, or None when the line is some other record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("kind") != KIND_CHECKPOINT:
        return None
    step, path = record.get("step"), record.get("path")
    if record.get("v") != REPORT_FORMAT_VERSION or not isinstance(step, int) or not isinstance(path, str):
        raise ValueError(f"malformed checkpoint record: {line[:200]!r}")
    return CheckpointSaved(step=step, path=Path(path))
