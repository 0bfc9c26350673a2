"""Writing a checkpoint directory atomically: complete under its final name, or not there at all."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from hounsfield.checkpoints.layout import MODEL_KEY, CheckpointFormatError, state_file_name
from hounsfield.checkpoints.meta import write_meta
from hounsfield.checkpoints.tensors import to_cpu, weights_for_safetensors
from hounsfield.contracts.models import CheckpointMeta


def state_files(state: Mapping[str, Any]) -> dict[str, str]:
    """State key → file name, checking every key can name a file."""
    if not state:
        raise CheckpointFormatError(
            "the checkpoint state is empty; pass at least {'model': model.state_dict()}"
        )
    files: dict[str, str] = {}
    for key in state:
        if not isinstance(key, str):
            raise CheckpointFormatError(f"state keys must be strings, got {key!r}")
        files[key] = state_file_name(key)
    return files


def write_checkpoint(
    target: Path, state: Mapping[str, Any], meta: Callable[[dict[str, str]], CheckpointMeta]
) -> Path:
    """Writes ``state`` and its meta.json to ``target`` (parents created); returns ``target``.

    The files go into a hidden sibling directory, are flushed, and the directory is renamed to
    ``target``: readers and the worker agent see a complete checkpoint or none. An existing
    checkpoint of the same name is replaced only once the new one is complete. ``meta`` builds
    the metadata from the state-key → file mapping.
    """
    files = state_files(state)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staging = parent / f".{target.name}.{token}.tmp"
    staging.mkdir()
    try:
        for key, name in files.items():
            _write_state_file(staging / name, key, state[key])
        write_meta(staging, meta(files))
        for name in (*files.values(), "meta.json"):
            _fsync(staging / name)
        _fsync(staging)
        _rename_into_place(staging, target, token)
        _fsync(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _write_state_file(path: Path, key: str, value: Any) -> None:
    if key == MODEL_KEY:
        save_file(weights_for_safetensors(value), str(path))
    else:
        torch.save(to_cpu(value, f"state[{key!r}]"), path)


def _rename_into_place(staging: Path, target: Path, token: str) -> None:
    """A directory cannot be renamed over a non-empty one, so an old checkpoint steps aside first."""
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.{token}.old")
        os.rename(target, aside)
    os.rename(staging, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flushes a file or a directory entry list; filesystems that cannot (some network mounts) are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
