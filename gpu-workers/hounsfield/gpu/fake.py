"""Simulated GPUs (HOUNSFIELD_FAKE_GPUS) so the whole platform runs on a machine without GPUs.

Accepted forms of the variable:

* a count: ``8`` → eight "Hounsfield Simulated GPU" devices with 80 GiB each (``0`` is a simulated
  worker without GPUs);
* ``<count>x<model>[-<memory>GB]`` groups, comma-separated: ``8xH100-80GB`` → eight
  "NVIDIA H100 80GB" devices with 80 GiB; ``4xA100-40GB,2xL4-24GB`` mixes models (indices follow
  the order); without a memory part a device has 80 GiB;
* a JSON list with one object per device: ``[{"name": "NVIDIA H100 80GB HBM3", "memoryGiB": 80}]``.
  Optional keys ``memoryUsedGiB``, ``utilizationPercent``, ``temperatureCelsius`` and
  ``foreignProcesses`` let tests present busy GPUs to the scheduler.

Simulated devices report no use unless the JSON form says otherwise; their uuids are
``FAKE-<worker>-<index>``. Trainers then run on the CPU, but CUDA_VISIBLE_DEVICES is still set to the
assigned indices so the GPU split is visible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Set
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hounsfield.contracts.models import GpuInfo

GIB = 1024**3
MAX_GPUS = 64
DEFAULT_NAME = "Hounsfield Simulated GPU"
DEFAULT_MEMORY_GIB = 80.0
IDLE_TEMPERATURE_CELSIUS = 30.0

_GROUP = re.compile(
    r"^(?P<count>\d+)\s*x\s*(?P<model>[A-Za-z0-9][A-Za-z0-9 _.]*?)(?:-(?P<memory>\d+(?:\.\d+)?)\s*GI?B)?$",
    re.I,
)


class FakeGpuSpecError(ValueError):
    """HOUNSFIELD_FAKE_GPUS is not one of the accepted forms."""


@dataclass(frozen=True)
class FakeGpu:
    name: str
    memory_total_bytes: int
    memory_used_bytes: int = 0
    utilization_percent: float = 0.0
    temperature_celsius: float = IDLE_TEMPERATURE_CELSIUS
    foreign_processes: bool = False


class _FakeGpuEntry(BaseModel):
    """One device in the JSON form (camelCase keys, like the contracts)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(DEFAULT_NAME, min_length=1, max_length=128)
    memory_gib: float = Field(DEFAULT_MEMORY_GIB, gt=0, le=4096, alias="memoryGiB")
    memory_used_gib: float = Field(0.0, ge=0, le=4096, alias="memoryUsedGiB")
    utilization_percent: float = Field(0.0, ge=0, le=100, alias="utilizationPercent")
    temperature_celsius: float = Field(IDLE_TEMPERATURE_CELSIUS, ge=-50, le=200, alias="temperatureCelsius")
    foreign_processes: bool = Field(False, alias="foreignProcesses")


def _from_json(text: str) -> list[FakeGpu]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise FakeGpuSpecError(f"not valid JSON: {error}") from error
    if not isinstance(raw, list):
        raise FakeGpuSpecError("the JSON form must be a list of objects")
    gpus = []
    for position, item in enumerate(raw):
        try:
            entry = _FakeGpuEntry.model_validate(item)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise FakeGpuSpecError(f"entry {position}: {where}: {first['msg']}") from error
        if entry.memory_used_gib > entry.memory_gib:
            raise FakeGpuSpecError(f"entry {position}: memoryUsedGiB exceeds memoryGiB")
        gpus.append(
            FakeGpu(
                name=entry.name,
                memory_total_bytes=int(entry.memory_gib * GIB),
                memory_used_bytes=int(entry.memory_used_gib * GIB),
                utilization_percent=entry.utilization_percent,
                temperature_celsius=entry.temperature_celsius,
                foreign_processes=entry.foreign_processes,
            )
        )
    return gpus


def _from_groups(text: str) -> list[FakeGpu]:
    gpus: list[FakeGpu] = []
    for group in text.split(","):
        match = _GROUP.match(group.strip())
        if match is None:
            raise FakeGpuSpecError(f"cannot read {group.strip()!r}; expected for example 8xH100-80GB")
        model = match["model"].strip()
        memory = match["memory"]
        name = model if model.upper().startswith("NVIDIA") else f"NVIDIA {model}"
        if memory is not None:
            name = f"{name} {memory}GB"
        memory_gib = float(memory) if memory is not None else DEFAULT_MEMORY_GIB
        gpus.extend(
            FakeGpu(name=name, memory_total_bytes=int(memory_gib * GIB)) for _ in range(int(match["count"]))
        )
    return gpus


def parse_fake_gpus(spec: str) -> list[FakeGpu]:
    """Reads one of the accepted forms (see the module docstring) into a list of devices."""
    text = spec.strip()
    if not text:
        raise FakeGpuSpecError("empty; use a count such as 8, 8xH100-80GB or a JSON list")
    if text.isdigit():
        gpus = [FakeGpu(name=DEFAULT_NAME, memory_total_bytes=int(DEFAULT_MEMORY_GIB * GIB))] * int(text)
    elif text.startswith("["):
        gpus = _from_json(text)
    else:
        gpus = _from_groups(text)
    if len(gpus) > MAX_GPUS:
        raise FakeGpuSpecError(f"{len(gpus)} GPUs; a worker reports at most {MAX_GPUS}")
    return gpus


class FakeInventory:
    """Reports the configured simulated devices; nothing is measured."""

    simulated = True

    def __init__(self, gpus: list[FakeGpu], worker_id: str) -> None:
        self._gpus = gpus
        self._worker_id = worker_id

    def count(self) -> int:
        return len(self._gpus)

    def snapshot(self, own_pids: Set[int]) -> list[GpuInfo]:
        return [
            GpuInfo(
                index=index,
                uuid=f"FAKE-{self._worker_id}-{index}",
                name=gpu.name,
                memoryTotalBytes=gpu.memory_total_bytes,
                memoryUsedBytes=gpu.memory_used_bytes,
                utilizationPercent=gpu.utilization_percent,
                temperatureCelsius=gpu.temperature_celsius,
                foreignProcesses=gpu.foreign_processes,
            )
            for index, gpu in enumerate(self._gpus)
        ]

    def close(self) -> None:
        return None
