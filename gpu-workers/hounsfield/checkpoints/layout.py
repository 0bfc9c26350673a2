"""Names inside a checkpoint directory and of checkpoint directories (no torch needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

FORMAT: Final = "hounsfield.checkpoint"
#: Bumped when a reader of the previous version could misread a new checkpoint.
FORMAT_VERSION = 1
META_FILE = "meta.json"
MODEL_KEY = "model"
MODEL_FILE = "model.safetensors"
#: Checkpoints of a run live in ``<output_dir>/checkpoints/step-<step>/``.
CHECKPOINTS_DIR = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_STATE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class CheckpointFormatError(ValueError):
    """A checkpoint directory or state is not in this format; the message says what to change."""


def step_dir_name(step: int) -> str:
    """``step-000001200``: zero-padded so a plain listing sorts by step."""
    if step < 0:
        raise CheckpointFormatError(f"step must be >= 0, got {step}")
    return f"step-{step:09d}"


def state_file_name(key: str) -> str:
    """The file that holds one state key: the weights as safetensors, anything else as a .pt file."""
    if not _STATE_KEY.match(key):
        raise CheckpointFormatError(
            f"state key {key!r} cannot name a file: use letters, digits, '_' and '-' (at most 64), "
            "starting with a letter or digit"
        )
    if key == "meta":
        raise CheckpointFormatError("state key 'meta' is reserved for meta.json; rename it")
    return MODEL_FILE if key == MODEL_KEY else f"{key}.pt"


def committed_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoint directories under ``directory`` (those with a meta.json), by step.

    Temporary directories are hidden (dot-prefixed) and never match.
    """
    if not directory.is_dir():
        return []
    found: list[tuple[int, Path]] = []
    for entry in directory.iterdir():
        match = _STEP_DIR.match(entry.name)
        if match and entry.is_dir() and (entry / META_FILE).is_file():
            found.append((int(match.group(1)), entry))
    return [path for _, path in sorted(found)]
