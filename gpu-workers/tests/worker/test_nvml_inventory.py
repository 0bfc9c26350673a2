"""NVML inventory against a stand-in for the pynvml module (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hounsfield.gpu import NvmlInventory


class _NvmlError(Exception):
    pass


def _fake_nvml(processes: list[list[int]]) -> Any:
    def not_supported(handle: int) -> None:
        raise _NvmlError("Not Supported")

    return SimpleNamespace(
        NVMLError=_NvmlError,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(processes),
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetUUID=lambda handle: f"GPU-{handle}".encode(),
        nvmlDeviceGetName=lambda handle: "NVIDIA H100 80GB HBM3",
        nvmlDeviceGetMemoryInfo=lambda handle: SimpleNamespace(total=80 * 2**30, used=2**30),
        nvmlDeviceGetUtilizationRates=lambda handle: SimpleNamespace(gpu=42),
        nvmlDeviceGetTemperature=lambda handle, sensor: 55,
        nvmlDeviceGetPowerUsage=not_supported,
        nvmlDeviceGetComputeRunningProcesses=lambda handle: [
            SimpleNamespace(pid=p) for p in processes[handle]
        ],
    )


def test_processes_outside_the_agents_trees_are_foreign() -> None:
    inventory = NvmlInventory.open(_fake_nvml([[100, 101], [100, 999], []]))
    assert inventory is not None and inventory.count() == 3

    gpus = inventory.snapshot(own_pids={100, 101})

    assert [g.foreignProcesses for g in gpus] == [False, True, False]
    assert gpus[0].uuid == "GPU-0" and gpus[0].utilizationPercent == 42 and gpus[0].temperatureCelsius == 55
    assert gpus[0].powerWatts is None  # the sensor is not supported: left out, not an error


def test_no_driver_means_no_inventory() -> None:
    def missing() -> None:
        raise _NvmlError("NVML Shared Library Not Found")

    nvml = _fake_nvml([])
    nvml.nvmlInit = missing
    assert NvmlInventory.open(nvml) is None
