"""Loading weights (only) into a module: warm starts and frozen pretrained sub-networks.

Sources: a checkpoint directory of this format (its ``model`` weights or its EMA), a
``.safetensors`` file, or a ``torch.save`` file (``.pth``/``.pt``/``.ckpt``: a bare state dict or a
dict holding one under the usual keys, read onto the CPU with ``weights_only=True``). A file can be
checked against an expected sha256 first. Keys that all carry DataParallel's ``module.`` prefix
lose it.

``strict=True`` demands exactly the module's keys with the module's shapes and raises
:class:`WeightsMismatchError` naming the offending keys otherwise; ``strict=False`` loads what
matches by name and shape and reports the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load_file
from torch import nn

from hounsfield.checkpoints.layout import META_FILE, CheckpointFormatError
from hounsfield.checkpoints.legacy_import import read_legacy
from hounsfield.checkpoints.reader import read_checkpoint

WeightsChoice = Literal["model", "ema"]
_SHOWN_KEYS = 10


class WeightsMismatchError(CheckpointFormatError):
    """The weights do not fit the module; the message names missing, unexpected and reshaped keys."""


@dataclass(frozen=True)
class WeightsReport:
    """What a load did: keys loaded, and those that were not (with the shapes that differed)."""

    source: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    sha256: str | None = None

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        parts = [f"{self.loaded} tensor(s) loaded from {self.source}"]
        if self.missing:
            parts.append(f"missing {len(self.missing)}: {_names(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)}: {_names(self.unexpected)}")
        if self.mismatched:
            shapes = [f"{k} {v[0]} vs module {v[1]}" for k, v in list(self.mismatched.items())[:_SHOWN_KEYS]]
            parts.append(f"shape mismatch {len(self.mismatched)}: {', '.join(shapes)}")
        return "; ".join(parts)


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (f", … ({len(keys) - _SHOWN_KEYS} more)" if len(keys) > _SHOWN_KEYS else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(source: Path, weights: WeightsChoice = "model") -> dict[str, torch.Tensor]:
    """The weights in ``source`` as CPU tensors (see the module docstring for what it may be)."""
    if source.is_dir():
        if not (source / META_FILE).is_file():
            raise CheckpointFormatError(f"{source} is a directory but not a checkpoint (no {META_FILE})")
        state, _ = read_checkpoint(source)
        if weights == "ema":
            ema = state.get("ema")
            if not isinstance(ema, Mapping) or "shadow" not in ema:
                raise CheckpointFormatError(f"{source} has no EMA weights; use weights: model")
            return dict(ema["shadow"])
        return dict(state["model"])
    if not source.is_file():
        raise CheckpointFormatError(f"{source} does not exist")
    if source.suffix == ".safetensors":
        return load_file(str(source), device="cpu")
    legacy = read_legacy(source)
    if weights == "ema":
        ema = legacy.state.get("ema")
        if isinstance(ema, Mapping):
            shadow = ema.get("shadow", ema)
            if isinstance(shadow, Mapping) and all(isinstance(t, torch.Tensor) for t in shadow.values()):
                return dict(shadow)
        raise CheckpointFormatError(f"{source.name} has no EMA weights; use weights: model")
    return dict(legacy.state["model"])


def _strip_data_parallel(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prefix = "module."
    if state and all(key.startswith(prefix) for key in state):
        return {key[len(prefix) :]: value for key, value in state.items()}
    return state


def load_weights(
    module: nn.Module,
    source: Path,
    *,
    strict: bool = True,
    weights: WeightsChoice = "model",
    expected_sha256: str | None = None,
) -> WeightsReport:
    """Copies the weights in ``source`` into ``module`` (see the module docstring)."""
    digest = None
    if expected_sha256 is not None or source.is_file():
        digest = file_sha256(source) if source.is_file() else None
    if expected_sha256 is not None:
        if digest is None:
            raise CheckpointFormatError(f"{source}: a sha256 can only be checked for a file")
        if digest != expected_sha256.lower():
            raise CheckpointFormatError(
                f"{source} has sha256 {digest}, expected {expected_sha256}; wrong or corrupted weights file"
            )
    incoming = _strip_data_parallel(read_state_dict(source, weights))
    own = module.state_dict()
    missing = sorted(key for key in own if key not in incoming)
    unexpected = sorted(key for key in incoming if key not in own)
    mismatched = {
        key: (list(incoming[key].shape), list(own[key].shape))
        for key in sorted(own)
        if key in incoming and tuple(incoming[key].shape) != tuple(own[key].shape)
    }
    usable = {key: value for key, value in incoming.items() if key in own and key not in mismatched}
    report = WeightsReport(str(source), len(usable), missing, unexpected, mismatched, digest)
    if strict and not report.complete:
        raise WeightsMismatchError(f"the weights do not fit {type(module).__name__}: {report.summary()}")
    with torch.no_grad():
        for key, value in usable.items():
            own[key].copy_(value.to(dtype=own[key].dtype))
    return report


def describe(report: WeightsReport) -> dict[str, Any]:
    """A small JSON-able summary for events and checkpoint provenance."""
    return {
        "source": report.source,
        "loaded": report.loaded,
        "missing": report.missing[:50],
        "unexpected": report.unexpected[:50],
        "mismatched": {k: {"source": v[0], "module": v[1]} for k, v in list(report.mismatched.items())[:50]},
        **({"sha256": report.sha256} if report.sha256 else {}),
    }
