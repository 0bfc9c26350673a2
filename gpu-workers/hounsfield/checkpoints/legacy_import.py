"""Reading legacy checkpoints — a ``torch.save`` ``.pth`` or a Lightning ``.ckpt`` — into this format.

Legacy files often hold CUDA tensors (``torch.save`` on GPU 7 of 8 records ``cuda:7`` for each
storage), so loading them on another machine fails with "Attempting to deserialize object on CUDA
device 7". Here every storage is mapped to the CPU while loading (the original locations are kept
in ``meta.json``'s ``source.devices``), and unpickling is ``weights_only=True``: a file that
needs arbitrary classes is refused unless the caller trusts it explicitly.

How the contents map to state keys:
- Lightning: ``state_dict`` → ``model``; ``optimizer_states[i]`` → ``optimizer`` (``optimizer_<i>``
  for more); ``lr_schedulers[i]`` → ``lr_scheduler`` likewise; ``global_step`` and ``epoch`` → the
  checkpoint's step and epoch; everything else (loops, callbacks, hyper-parameters) → ``lightning``.
- ``.pth``: a bare state dict → ``model``; else the usual keys (``model``/``state_dict``/
  ``model_state_dict``/``model_state``/``net``, ``optimizer``/``optimizer_state_dict``/
  ``optimizer_state``, ``ema``, ``scaler``, ``lr_scheduler``/``scheduler``) → their state keys (the
  public PCDiff code saves ``model_state``, ``optimizer_state`` and ``epoch``),
  ``step``/``global_step``/``iteration`` and ``epoch`` → step and epoch, the rest → ``legacy``.
  Nothing is dropped.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from hounsfield.checkpoints.layout import CheckpointFormatError

LegacyKind = Literal["pth", "lightning"]
FormatChoice = Literal["auto", "pth", "lightning"]

_PTH_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("model", "state_dict", "model_state_dict", "model_state", "net", "network"),
    "optimizer": ("optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt"),
    "ema": ("ema", "ema_state_dict", "model_ema", "ema_model"),
    "scaler": ("scaler", "grad_scaler", "amp"),
    "lr_scheduler": ("lr_scheduler", "scheduler", "scheduler_state_dict"),
}
_STEP_KEYS = ("step", "global_step", "iteration", "iter", "steps")


@dataclass
class LegacyCheckpoint:
    kind: LegacyKind
    state: dict[str, Any]
    step: int | None
    epoch: float | None
    #: Where the source's tensors were saved (``cuda:7``, ``cpu``); all are on the CPU now.
    devices: list[str]
    sha256: str
    metrics: dict[str, float] = field(default_factory=dict)


def read_legacy(
    path: Path, format: FormatChoice = "auto", *, trust_pickled: bool = False
) -> LegacyCheckpoint:
    """Loads ``path`` onto the CPU and maps its contents to state keys (see the module docstring)."""
    if not path.is_file():
        raise CheckpointFormatError(f"{path} does not exist or is not a file")
    devices: set[str] = set()

    def to_cpu(storage: Any, location: str) -> Any:
        devices.add(location)
        return storage  # already deserialised on the CPU; not moved to the recorded device

    try:
        raw = torch.load(path, map_location=to_cpu, weights_only=not trust_pickled)
    except pickle.UnpicklingError as error:
        raise CheckpointFormatError(
            f"{path.name} holds pickled objects that cannot be loaded safely ({_first_line(error)}); "
            "if you trust the file, import it with --trust-pickled"
        ) from error
    kind = _detect(raw, format, path)
    legacy = _from_lightning(raw) if kind == "lightning" else _from_pth(raw)
    legacy.devices = sorted(devices)
    legacy.sha256 = _sha256(path)
    return legacy


def _detect(raw: Any, format: FormatChoice, path: Path) -> LegacyKind:
    looks_lightning = isinstance(raw, Mapping) and (
        "pytorch-lightning_version" in raw or ("state_dict" in raw and "global_step" in raw)
    )
    if format == "lightning" and not looks_lightning:
        raise CheckpointFormatError(
            f"{path.name} is not a Lightning checkpoint (no state_dict and global_step)"
        )
    if format == "auto":
        return "lightning" if looks_lightning else "pth"
    return format


def _from_lightning(raw: Mapping[str, Any]) -> LegacyCheckpoint:
    rest = dict(raw)
    state: dict[str, Any] = {"model": _state_dict(rest.pop("state_dict"), "state_dict")}
    for source, key in (("optimizer_states", "optimizer"), ("lr_schedulers", "lr_scheduler")):
        for index, item in enumerate(rest.pop(source, None) or []):
            state[key if index == 0 else f"{key}_{index}"] = item
    step = rest.pop("global_step", None)
    epoch = rest.pop("epoch", None)
    if rest:
        state["lightning"] = rest
    return LegacyCheckpoint("lightning", state, _int_or_none(step), _float_or_none(epoch), [], "")


def _from_pth(raw: Any) -> LegacyCheckpoint:
    if not isinstance(raw, Mapping):
        raise CheckpointFormatError(
            f"the file holds a {type(raw).__name__}, not a dict; save model.state_dict() (or a dict of them)"
        )
    if raw and all(isinstance(value, torch.Tensor) for value in raw.values()):
        return LegacyCheckpoint("pth", {"model": _state_dict(raw, "the file")}, None, None, [], "")
    rest = dict(raw)
    state: dict[str, Any] = {}
    for key, aliases in _PTH_KEYS.items():
        for alias in aliases:
            if alias in rest and rest[alias] is not None:
                value = rest.pop(alias)
                state[key] = _state_dict(value, alias) if key == "model" else value
                break
    if "model" not in state:
        raise CheckpointFormatError(
            f"no weights found: expected a state dict, or one of {', '.join(_PTH_KEYS['model'])} in the file "
            f"(it has {', '.join(sorted(map(str, raw)))})"
        )
    step = next((rest.pop(key) for key in _STEP_KEYS if isinstance(rest.get(key), int)), None)
    epoch = rest.pop("epoch", None)
    if rest:
        state["legacy"] = rest
    return LegacyCheckpoint("pth", state, _int_or_none(step), _float_or_none(epoch), [], "")


def _state_dict(value: Any, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(value, Mapping) or not all(isinstance(t, torch.Tensor) for t in value.values()):
        raise CheckpointFormatError(f"{where} is not a state dict of tensors")
    return dict(value)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | torch.Tensor) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        else None
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
