"""GPU inventory for the worker agent: NVML on real machines, simulated devices for tests and demos."""

from hounsfield.gpu.fake import FakeGpu, FakeGpuSpecError, FakeInventory, parse_fake_gpus
from hounsfield.gpu.inventory import GpuInventory, NoGpuInventory, open_inventory
from hounsfield.gpu.nvml import NvmlInventory

__all__ = [
    "FakeGpu",
    "FakeGpuSpecError",
    "FakeInventory",
    "GpuInventory",
    "NoGpuInventory",
    "NvmlInventory",
    "open_inventory",
    "parse_fake_gpus",
]
