"""The ``voxelization`` recipe: PCDiff's voxelization network.

Encode2Points turns complete-skull points (normalised by the defective skull's box, as at test
time) into oriented points; DPSR solves for an indicator field on the PSR grid, and psr_l2
compares it with the ground truth (-0.5 inside the complete skull, +0.5 outside). Examples::

    python -m hounsfield.recipes.voxelization --preset cpu-tiny --synthetic 6 --steps 50
    python -m hounsfield.recipes.voxelization --preset paper-skullbreak --data-root /data/SkullBreak

Under the platform this is the ``voxelization`` job kind. With bf16 autocast on GPUs the
network runs in bf16 while the spectral Poisson solve stays in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hounsfield.data.skullbreak import SkullVoxelizationDataset
from hounsfield.models.voxelization import Encode2Points, dataset_sampling, psr_l2
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.skull_cases import training_cases, validation_cases
from hounsfield.recipes.voxelization import KIND, VERSION
from hounsfield.recipes.voxelization.config import PRESETS, VoxelizationTrainConfig
from hounsfield.trainers.parts import (
    Batch,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
    Validator,
    unwrap,
)
from hounsfield.trainers.sampler import seeded_item

#: Validation draws are seeded by case, not by sample position, so every validation sees the same points.
_STREAM_VALIDATION = 11


def voxelization_loss(model: nn.Module, batch: Batch, step: int = 0) -> Tensor:
    """psr_l2 of a micro-batch; ``model`` is an ``Encode2Points``, possibly DDP-wrapped or compiled."""
    network = unwrap(model)
    assert isinstance(network, Encode2Points)
    moved, normals = model(batch["points"])  # through the wrapper, so DDP sees the forward pass
    with torch.autocast(batch["points"].device.type, enabled=False):
        field = network.dpsr(moved.float(), normals.float())
    return psr_l2(field, batch["gt_psr"].float())


def validator(dataset: SkullVoxelizationDataset, seed: int) -> Validator:
    """``val.psr_l2`` on held-out cases, with the same points every time (seeded per case)."""

    def validate(request: ValidationRequest) -> ValidationResult:
        total, count = 0.0, 0
        for index in request.shard(range(len(dataset))):
            item = seeded_item(dataset, index, seed, _STREAM_VALIDATION)
            batch = {
                k: v.unsqueeze(0).to(request.device) if isinstance(v, Tensor) else v for k, v in item.items()
            }
            total += float(voxelization_loss(request.model, batch))
            count += 1
        return ValidationResult(sums={"psr_l2": total}, count=count)

    return validate


def build(config: VoxelizationTrainConfig, ctx: BuildContext) -> TrainingParts:
    cases = training_cases(config, ctx.output_dir, ctx.dist)
    sampling = dataset_sampling(config.model, config.dense)
    cache = config.cache_dir or ctx.output_dir / "cache"
    dataset = SkullVoxelizationDataset(cases, sampling, cache)
    model = Encode2Points(config.model).to(ctx.device)
    held_out = SkullVoxelizationDataset(validation_cases(config, ctx.output_dir), sampling, cache)
    return TrainingParts(
        model=model, loss_fn=voxelization_loss, dataset=dataset, validate=validator(held_out, config.seed)
    )


RECIPE = Recipe[VoxelizationTrainConfig](
    kind=KIND,
    version=VERSION,
    description=__doc__ or "",
    config=VoxelizationTrainConfig,
    presets=PRESETS,
    build=build,
)
