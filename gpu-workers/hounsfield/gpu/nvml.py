"""Real GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

NVML reports host PIDs. Inside a container with its own PID namespace they do not match the agent's
PIDs, so every process would look foreign; run such workers with the host PID namespace.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Set
from types import ModuleType
from typing import Any, TypeVar

from hounsfield.contracts.models import GpuInfo

_log = logging.getLogger(__name__)

T = TypeVar("T")


def _text(value: str | bytes) -> str:
    # Older NVML bindings return bytes, newer ones str.
    return value.decode() if isinstance(value, bytes) else value


class NvmlInventory:
    """Reads name, memory, utilisation, temperature, power and compute processes of every device."""

    simulated = False

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml
        self._count = int(nvml.nvmlDeviceGetCount())

    @classmethod
    def open(cls, nvml: ModuleType | None = None) -> NvmlInventory | None:
        """Initialises NVML; None on a machine without the NVIDIA driver (a CPU-only worker)."""
        try:
            if nvml is None:
                nvml = importlib.import_module("pynvml")  # absent drivers are normal on CPU workers
            nvml.nvmlInit()
            return cls(nvml)
        except Exception as error:  # NVMLError subclasses, ImportError, OSError from the loader
            _log.info("NVML unavailable (%s); this worker reports no GPUs", error)
            return None

    def count(self) -> int:
        return self._count

    def _read(self, what: str, call: Callable[[], T], fallback: T) -> T:
        """One NVML query; devices lack some sensors (NotSupported), which is not an error."""
        try:
            return call()
        except self._nvml.NVMLError as error:
            _log.debug("NVML %s unavailable: %s", what, error)
            return fallback

    def _device(self, index: int, own_pids: Set[int]) -> GpuInfo:
        nvml = self._nvml
        handle: Any = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        utilization = self._read(
            "utilization", lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu), 0.0
        )
        temperature = self._read(
            "temperature",
            lambda: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
            0.0,
        )
        power_mw = self._read("power", lambda: float(nvml.nvmlDeviceGetPowerUsage(handle)), None)
        processes: list[Any] = self._read(
            "processes", lambda: list(nvml.nvmlDeviceGetComputeRunningProcesses(handle)), []
        )
        return GpuInfo(
            index=index,
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            name=_text(nvml.nvmlDeviceGetName(handle))[:128] or "unknown",
            memoryTotalBytes=int(memory.total),
            memoryUsedBytes=int(memory.used),
            utilizationPercent=min(max(utilization, 0.0), 100.0),
            temperatureCelsius=min(max(temperature, -50.0), 200.0),
            powerWatts=None if power_mw is None else max(power_mw / 1000.0, 0.0),
            foreignProcesses=any(int(process.pid) not in own_pids for process in processes),
        )

    def snapshot(self, own_pids: Set[int]) -> list[GpuInfo]:
        """Every device; ``own_pids`` are the agent's process trees (anything else is foreign)."""
        return [self._device(index, own_pids) for index in range(self._count)]

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError as error:
            _log.debug("NVML shutdown: %s", error)
