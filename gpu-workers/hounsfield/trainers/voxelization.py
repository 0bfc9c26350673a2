"""``python -m hounsfield.trainers.voxelization``: trains PCDiff's voxelization network.

Encode2Points turns complete-skull points (normalised by the defective skull's box, as at test
time) into oriented points; DPSR solves for an indicator field on the PSR grid, and psr_l2
compares it with the ground truth (-0.5 inside the complete skull, +0.5 outside). Examples::

    python -m hounsfield.trainers.voxelization --preset cpu-tiny --synthetic 6 --steps 50
    python -m hounsfield.trainers.voxelization --preset paper-skullbreak --data-root /data/SkullBreak

Under the platform this module is the ``voxelization`` job kind. With bf16 autocast on GPUs the
network runs in bf16 while the spectral Poisson solve stays in float32.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from hounsfield.data.skullbreak import SkullVoxelizationDataset
from hounsfield.models.voxelization import Encode2Points, dataset_sampling, psr_l2
from hounsfield.sdk import Run
from hounsfield.trainers.cli import TrainerDefinition, TrainingParts, run_trainer
from hounsfield.trainers.ddp import DistributedContext
from hounsfield.trainers.loop import Batch, BatchPlan
from hounsfield.trainers.skull_data import training_cases
from hounsfield.trainers.voxelization_config import (
    PRESETS,
    VoxelizationTrainConfig,
    voxelization_train_preset,
)


def voxelization_loss(model: nn.Module, batch: Batch) -> Tensor:
    """psr_l2 of a micro-batch; ``model`` is an ``Encode2Points``, possibly DDP-wrapped."""
    network = model.module if isinstance(model, DistributedDataParallel) else model
    assert isinstance(network, Encode2Points)
    moved, normals = model(batch["points"])  # through the wrapper, so DDP sees the forward pass
    with torch.autocast(batch["points"].device.type, enabled=False):
        field = network.dpsr(moved.float(), normals.float())
    return psr_l2(field, batch["gt_psr"].float())


def build(
    config: VoxelizationTrainConfig, run: Run, context: DistributedContext, plan: BatchPlan
) -> TrainingParts:
    cases = training_cases(config, run.output_dir, context)
    sampling = dataset_sampling(config.model, config.dense)
    dataset = SkullVoxelizationDataset(cases, sampling, config.cache_dir or run.output_dir / "cache")
    model = Encode2Points(config.model).to(context.device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=plan.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    return TrainingParts(model=model, loss_fn=voxelization_loss, optimizer=optimizer, dataset=dataset)


DEFINITION = TrainerDefinition[VoxelizationTrainConfig](
    name="voxelization",
    description=__doc__ or "",
    preset=voxelization_train_preset,
    presets=tuple(PRESETS),
    build=build,
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_trainer(DEFINITION, argv)


if __name__ == "__main__":
    sys.exit(main())
