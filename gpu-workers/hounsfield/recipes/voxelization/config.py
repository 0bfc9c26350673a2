"""Configuration of the voxelization (Encode2Points + DPSR) trainer and its presets.

``paper-skullbreak`` / ``paper-skullfix``: PCDiff's voxelization settings (its
``train_skullbreak.yaml`` / ``train_skullfix.yaml``, identical but for the data): 30,720 input
points, PSR grid 512^3 with sigma 2, a 32^3 encoder grid with c = 32 and a 3-level U-Net of 32
maps, 7 offsets per point scaled by 0.001, Adam lr 5e-4, batch 2, a line every 100 steps and a
checkpoint every 2,000; the configs' 600,000 epochs mean "until stopped", which we keep.

``cpu-tiny``: ``voxelization_preset("cpu-tiny")`` — 2,048 points, a 48^3 PSR grid, 16^3 encoder,
16 channels, lr 3e-3 — with batch 2 for a few hundred CPU steps.

The trainer uses ``globalBatch``/``lr`` (or the platform's resolved values); the model config's
own ``batch_size``/``learning_rate`` are kept equal to them in the presets for reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from hounsfield.data.cases import DatasetLayout
from hounsfield.data.dense_samples import DenseSamplingConfig
from hounsfield.models.voxelization import VoxelizationConfig, voxelization_preset
from hounsfield.trainers.config_base import TrainerConfigBase

VoxelizationPreset = Literal["paper-skullbreak", "paper-skullfix", "cpu-tiny"]


class VoxelizationTrainConfig(TrainerConfigBase):
    """Everything one voxelization training run needs (see the module docstring for the presets)."""

    model: VoxelizationConfig
    dense: DenseSamplingConfig = DenseSamplingConfig()


def _paper(layout: DatasetLayout) -> VoxelizationTrainConfig:
    model = voxelization_preset("paper")
    return VoxelizationTrainConfig(
        preset=f"paper-{layout.value}",
        layout=layout,
        model=model,
        global_batch=model.batch_size,
        lr=model.learning_rate,
        epochs=600_000,
        num_workers=8,
        log_every=100,
        checkpoint_every=2_000,
    )


def _cpu_tiny() -> VoxelizationTrainConfig:
    model = voxelization_preset("cpu-tiny")
    return VoxelizationTrainConfig(
        preset="cpu-tiny",
        model=model,
        dense=DenseSamplingConfig(n_dense=20_000),
        global_batch=model.batch_size,
        lr=model.learning_rate,
        steps=200,
        log_every=10,
    )


PRESETS: dict[str, Callable[[], VoxelizationTrainConfig]] = {
    "paper-skullbreak": lambda: _paper(DatasetLayout.SKULLBREAK),
    "paper-skullfix": lambda: _paper(DatasetLayout.SKULLFIX),
    "cpu-tiny": _cpu_tiny,
}
