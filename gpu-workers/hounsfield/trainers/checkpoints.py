"""Saving and resuming training state: through the SDK when it has checkpoints, else locally.

The state is a dict with ``model`` (a flat tensor dict: the weights), ``optimizer``, ``ema``,
``sampler`` (``{"global_index": int}``) and ``rng``; every tensor is moved to the CPU first, so
a checkpoint written on 8 GPUs loads on 1 or on none.

``Run.save_checkpoint``/``Run.load_checkpoint`` (safetensors weights, the rest with
``torch.save``, ``meta.json``, atomic commit, upload by the agent) are used when the SDK has
them. Until then ``LocalCheckpoints`` writes the same split into
``<output>/checkpoints/step-XXXXXXX/`` — ``model.safetensors``, ``state.pt`` (loaded with
``weights_only=True``) and ``meta.json`` — into a temporary directory renamed into place, keeps
the last few, and resumes from the newest complete one (or from ``HOUNSFIELD_RESUME_FROM`` when
that names such a directory).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file, save_file

from hounsfield.sdk import Run

_log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "state.pt"
META_FILE = "meta.json"


@dataclass(frozen=True)
class LoadedCheckpoint:
    step: int
    state: dict[str, Any]
    source: str


class CheckpointStore(Protocol):
    def save(
        self, state: dict[str, Any], step: int, *, epoch: float | None, metrics: Mapping[str, float]
    ) -> str: ...

    def load_latest(self) -> LoadedCheckpoint | None: ...


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor detached, cloned to the CPU (dicts, lists and tuples recursed)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {key: to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_cpu(item) for item in value)
    return value


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class LocalCheckpoints:
    """The fallback store (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        meta: Mapping[str, Any],
        keep_last: int = 3,
        resume_from: Path | None = None,
    ) -> None:
        self.directory = directory
        self.meta = dict(meta)
        self.keep_last = keep_last
        self.resume_from = resume_from

    def save(
        self, state: dict[str, Any], step: int, *, epoch: float | None, metrics: Mapping[str, float]
    ) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"step-{step:07d}"
        staging = self.directory / f".step-{step:07d}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        cpu_state = to_cpu(state)
        weights = {name: tensor.contiguous() for name, tensor in cpu_state.pop("model").items()}
        save_file(weights, str(staging / WEIGHTS_FILE))
        torch.save(cpu_state, staging / STATE_FILE)
        meta = {
            **self.meta,
            "formatVersion": FORMAT_VERSION,
            "step": step,
            "epoch": epoch,
            "metrics": dict(metrics),
            "savedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        for written in (WEIGHTS_FILE, STATE_FILE, META_FILE):
            _fsync(staging / written)
        _fsync(staging)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)  # the commit: a checkpoint is visible only once complete
        _fsync(self.directory)
        self._prune()
        return str(final)

    def load_latest(self) -> LoadedCheckpoint | None:
        candidates = [self.resume_from] if self.resume_from is not None else self._committed()[::-1]
        for path in candidates:
            if path is None or not (path / META_FILE).is_file():
                continue
            meta = json.loads((path / META_FILE).read_text())
            state: dict[str, Any] = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
            state["model"] = load_file(str(path / WEIGHTS_FILE), device="cpu")
            return LoadedCheckpoint(step=int(meta["step"]), state=state, source=str(path))
        return None

    def _committed(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.glob("step-*") if p.is_dir() and (p / META_FILE).is_file()]
        return sorted(found, key=lambda p: int(p.name.removeprefix("step-")))

    def _prune(self) -> None:
        for stale in self._committed()[: -self.keep_last]:
            shutil.rmtree(stale, ignore_errors=True)


class SdkCheckpoints:
    """Adapter to ``Run.save_checkpoint(state, step, *, epoch, metrics)`` / ``Run.load_checkpoint()``."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def save(
        self, state: dict[str, Any], step: int, *, epoch: float | None, metrics: Mapping[str, float]
    ) -> str:
        saved = self.run.save_checkpoint(to_cpu(state), step, epoch=epoch, metrics=dict(metrics))  # type: ignore[attr-defined]
        return str(saved)

    def load_latest(self) -> LoadedCheckpoint | None:
        loaded = self.run.load_checkpoint()  # type: ignore[attr-defined]
        if loaded is None:
            return None
        state = getattr(loaded, "state", loaded)
        if not isinstance(state, Mapping):
            raise TypeError(f"Run.load_checkpoint() returned {type(loaded).__name__}, not a state mapping")
        step = getattr(loaded, "step", None)
        if step is None:
            step = state.get("step", getattr(loaded, "meta", {}).get("step"))
        if step is None:
            raise ValueError("the loaded checkpoint does not say which step it was saved at")
        return LoadedCheckpoint(step=int(step), state=dict(state), source=str(getattr(loaded, "path", "sdk")))


def checkpoint_store(run: Run, meta: Mapping[str, Any]) -> CheckpointStore:
    """The SDK's checkpoints when ``Run`` has them, else ``LocalCheckpoints`` in the output dir."""
    if hasattr(Run, "save_checkpoint") and hasattr(Run, "load_checkpoint"):
        return SdkCheckpoints(run)
    resume = Path(run.resume_from) if run.resume_from and Path(run.resume_from).is_dir() else None
    return LocalCheckpoints(run.output_dir / CHECKPOINTS_DIR, meta=meta, resume_from=resume)


def _fsync(path: Path) -> None:
    """Flushes a file's or a directory's entries to disk (best effort where unsupported)."""
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
