"""Agents inside Slurm allocations (``python -m hounsfield.worker --slurm``, deploy/slurm).

The agent reports exactly the allocation's GPUs, drains before the allocation ends (its running
trainers checkpoint and stop; their jobs are requeued as ``preempted``, which spends no restart),
and exits once it has had nothing to run for ``HOUNSFIELD_IDLE_EXIT_SECONDS``, giving the nodes back.

Which GPUs: ``SLURM_STEP_GPUS``, else ``SLURM_JOB_GPUS`` (the node's device indices, as in
``gres.conf``), else ``CUDA_VISIBLE_DEVICES``, else ``SLURM_GPUS_ON_NODE`` devices from 0. Where
Slurm constrains devices with cgroups the node shows only the allocation's GPUs, numbered from 0:
then the allocation is all that NVML sees. The allocation's GPUs are reported as 0..N-1 and mapped
back for each trainer's CUDA_VISIBLE_DEVICES (with CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML's order).

When: ``HOUNSFIELD_SLURM_END_TIME`` (Unix seconds), else ``SLURM_JOB_END_TIME``; the drain starts
``HOUNSFIELD_SLURM_DRAIN_SECONDS`` before it (long enough for a checkpoint and its upload).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass

from hounsfield.contracts.models import GpuInfo
from hounsfield.gpu.inventory import GpuInventory

_log = logging.getLogger(__name__)

#: Where the allocation's GPUs are read from, in order of preference.
GPU_VARIABLES = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES")
GPU_COUNT_VARIABLE = "SLURM_GPUS_ON_NODE"
END_TIME_VARIABLE = "SLURM_JOB_END_TIME"


class SlurmError(ValueError):
    """The allocation's variables cannot be read; the message names the variable."""


@dataclass(frozen=True)
class SlurmAllocation:
    job_id: str | None
    #: The node's device indices this allocation holds (empty: a CPU-only allocation).
    gpus: tuple[int, ...]
    #: When the allocation ends (Unix seconds), if known.
    end_time: float | None


def _indices(name: str, value: str) -> tuple[int, ...]:
    indices: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part and all(p.isdigit() for p in part.split("-", 1)):
            low, high = (int(p) for p in part.split("-", 1))
            indices.extend(range(low, high + 1))
        elif part.isdigit():
            indices.append(int(part))
        else:
            raise SlurmError(
                f"{name}={value!r}: expected device indices such as 0,1 or 0-3 "
                "(set HOUNSFIELD_SLURM_GPUS to the indices when Slurm hands out UUIDs)"
            )
    if len(set(indices)) != len(indices):
        raise SlurmError(f"{name}={value!r}: a device is listed twice")
    return tuple(indices)


def read_allocation(
    environ: Mapping[str, str], end_time: float | None = None, gpus_override: str | None = None
) -> SlurmAllocation:
    """The allocation seen from this node's environment; ``end_time`` and ``gpus_override``
    (HOUNSFIELD_SLURM_END_TIME / HOUNSFIELD_SLURM_GPUS) win over Slurm's variables."""
    gpus: tuple[int, ...] = ()
    sources: list[tuple[str, str | None]] = []
    if gpus_override is not None:
        sources.append(("HOUNSFIELD_SLURM_GPUS", gpus_override))
    sources += [(name, environ.get(name)) for name in GPU_VARIABLES]
    for name, raw in sources:
        value = (raw or "").strip()
        if value and value.lower() not in ("none", "nodevfiles"):
            gpus = _indices(name, value)
            break
    else:
        count = environ.get(GPU_COUNT_VARIABLE, "").strip()
        if count:
            if not count.isdigit():
                raise SlurmError(f"{GPU_COUNT_VARIABLE}={count!r}: expected a number of GPUs")
            gpus = tuple(range(int(count)))
    if end_time is None and environ.get(END_TIME_VARIABLE, "").strip():
        raw = environ[END_TIME_VARIABLE].strip()
        try:
            end_time = float(raw)
        except ValueError as error:
            raise SlurmError(f"{END_TIME_VARIABLE}={raw!r}: expected Unix seconds") from error
    return SlurmAllocation(environ.get("SLURM_JOB_ID") or None, gpus, end_time)


def resolve_devices(allocated: Sequence[int], visible: int) -> tuple[int, ...]:
    """The NVML indices of the allocation's GPUs among the ``visible`` devices this node shows."""
    if all(index < visible for index in allocated):
        return tuple(allocated)
    if len(allocated) == visible:
        # Devices constrained by cgroups: the node shows the allocation's GPUs only, from 0.
        return tuple(range(visible))
    raise SlurmError(
        f"the allocation lists GPUs {list(allocated)} but this node shows {visible} device(s): "
        "check the gres configuration, or set HOUNSFIELD_SLURM_GPUS to the NVML indices"
    )


class AllocatedInventory:
    """The allocation's devices of an inventory, reported as GPUs 0..N-1 (in allocation order)."""

    def __init__(self, inner: GpuInventory, devices: Sequence[int]) -> None:
        self._inner = inner
        self.devices = tuple(devices)

    @property
    def simulated(self) -> bool:
        return self._inner.simulated

    def count(self) -> int:
        return len(self.devices)

    def snapshot(self, own_pids: Set[int]) -> list[GpuInfo]:
        by_index = {gpu.index: gpu for gpu in self._inner.snapshot(own_pids)}
        return [
            by_index[device].model_copy(update={"index": position})
            for position, device in enumerate(self.devices)
            if device in by_index
        ]

    def close(self) -> None:
        self._inner.close()


class LifetimeWatch:
    """Says when the agent should drain and exit: the allocation's end approaching, or idleness."""

    def __init__(
        self,
        *,
        end_time: float | None,
        drain_seconds: float,
        idle_exit_seconds: float | None,
        busy: Callable[[], bool],
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 0.5,
    ) -> None:
        self.end_time = end_time
        self.drain_at = None if end_time is None else end_time - drain_seconds
        self._idle_exit_seconds = idle_exit_seconds
        self._busy = busy
        self._clock = clock
        self._poll_seconds = poll_seconds

    @property
    def active(self) -> bool:
        return self.drain_at is not None or self._idle_exit_seconds is not None

    async def wait(self) -> str:
        """Returns, with the reason, once the agent should stop (never, when inactive)."""
        idle_since = self._clock()
        while True:
            now = self._clock()
            if self.drain_at is not None and now >= self.drain_at:
                assert self.end_time is not None
                return f"the Slurm allocation ends in {max(0.0, self.end_time - now):.0f} s"
            if self._busy():
                idle_since = now
            elif self._idle_exit_seconds is not None and now - idle_since >= self._idle_exit_seconds:
                return f"nothing to run for {self._idle_exit_seconds:g} s"
            await asyncio.sleep(self._poll_seconds)
