"""Batch size and learning rate resolved for one world size.

Under the platform the scheduler resolves them and the agent passes them in the trainer context;
standalone, ``resolve_hyperparameters`` applies the same rules as the scheduler
(``services/scheduler/src/jobs/batch-resolution.ts``): the global batch splits exactly over the
processes and accumulation steps, and the learning rate follows the reference batch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hounsfield.contracts.models import ResolvedHyperparameters

LrScaling = Literal["linear", "sqrt", "none"]


class ResolutionError(ValueError):
    """The global batch does not split over the processes (nothing is rounded silently)."""


def _accumulation(global_batch: int, world_size: int, cap: int | None) -> int | None:
    """Smallest accumulation giving an integral per-device batch within the cap."""
    if global_batch % world_size:
        return None
    per_rank = global_batch // world_size
    if cap is None:
        return 1
    for accum in range(1, per_rank + 1):
        if per_rank % accum == 0 and per_rank // accum <= cap:
            return accum
    return None


def resolve_hyperparameters(
    *,
    global_batch: int,
    base_lr: float,
    world_size: int,
    reference_batch: int | None = None,
    lr_scaling: LrScaling = "linear",
    max_per_device_batch: int | None = None,
) -> ResolvedHyperparameters:
    """Splits the global batch over ``world_size`` processes and scales the learning rate.

    linear: lr = base_lr × global/reference (Goyal et al. 2017); sqrt: × √(global/reference)
    (Krizhevsky 2014); none: base_lr. The reference batch defaults to the global batch.
    """
    if global_batch < 1 or world_size < 1:
        raise ResolutionError("global batch and world size must be at least 1")
    accum = _accumulation(global_batch, world_size, max_per_device_batch)
    if accum is None:
        cap = "" if max_per_device_batch is None else f" with at most {max_per_device_batch} per device"
        raise ResolutionError(
            f"global batch {global_batch} does not divide over {world_size} process(es){cap}"
        )
    from hounsfield.contracts.models import ResolvedHyperparameters  # noqa: PLC0415 - a slow import

    reference = reference_batch or global_batch
    ratio = global_batch / reference
    factor = ratio if lr_scaling == "linear" else math.sqrt(ratio) if lr_scaling == "sqrt" else 1.0
    return ResolvedHyperparameters(
        worldSize=world_size,
        globalBatch=global_batch,
        perDeviceBatch=global_batch // world_size // accum,
        gradAccumSteps=accum,
        referenceBatch=reference,
        baseLr=base_lr,
        lrScaling=lr_scaling,
        lr=base_lr * factor,
    )


def check_split(resolved: ResolvedHyperparameters) -> ResolvedHyperparameters:
    """``resolved`` if its split multiplies out to its global batch, else ResolutionError."""
    product = resolved.perDeviceBatch * resolved.gradAccumSteps * resolved.worldSize
    if product != resolved.globalBatch:
        raise ResolutionError(
            f"inconsistent resolved batch: {resolved.perDeviceBatch} per device × {resolved.gradAccumSteps} "
            f"accumulation × {resolved.worldSize} process(es) = {product}, not {resolved.globalBatch}"
        )
    return resolved
