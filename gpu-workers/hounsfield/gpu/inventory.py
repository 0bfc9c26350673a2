"""The worker's GPU inventory: NVML, simulated devices, or none."""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol

from hounsfield.contracts.models import GpuInfo
from hounsfield.gpu.fake import FakeGpu, FakeInventory
from hounsfield.gpu.nvml import NvmlInventory


class GpuInventory(Protocol):
    @property
    def simulated(self) -> bool: ...

    def count(self) -> int: ...

    def snapshot(self, own_pids: Set[int]) -> list[GpuInfo]:
        """Current state of every device; processes outside ``own_pids`` make a device foreign-used."""
        ...

    def close(self) -> None: ...


class NoGpuInventory:
    """A CPU-only worker (no NVIDIA driver): it reports no GPUs and runs CPU jobs only."""

    simulated = False

    def count(self) -> int:
        return 0

    def snapshot(self, own_pids: Set[int]) -> list[GpuInfo]:
        return []

    def close(self) -> None:
        return None


def open_inventory(fake_gpus: list[FakeGpu] | None, worker_id: str) -> GpuInventory:
    """Simulated devices when configured, else NVML, else none."""
    if fake_gpus is not None:
        return FakeInventory(fake_gpus, worker_id)
    return NvmlInventory.open() or NoGpuInventory()
