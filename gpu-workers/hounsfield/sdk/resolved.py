"""Batch size and learning rate resolved for one world size.

Under the platform the scheduler resolves them and the agent passes them in HOUNSFIELD_RESOLVED;
standalone, ``resolve_hyperparameters`` applies the same rules as the scheduler
(``services/scheduler/src/jobs/batch-resolution.ts``): the global batch splits exactly over the
processes and accumulation steps, and the learning rate follows the reference batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

LrScaling = Literal["linear", "sqrt", "none"]


class ResolutionError(ValueError):
    """The global batch does not split over the processes (nothing is rounded silently)."""


@dataclass(frozen=True)
class Resolved:
    world_size: int
    global_batch: int
    per_device_batch: int
    grad_accum_steps: int
    reference_batch: int
    base_lr: float
    lr_scaling: LrScaling
    lr: float

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Resolved:
        """From the camelCase ResolvedHyperparameters object the agent passes in."""
        scaling = data.get("lrScaling")
        if scaling == "linear" or scaling == "sqrt" or scaling == "none":
            lr_scaling: LrScaling = scaling
        else:
            raise ValueError(f"lrScaling must be linear, sqrt or none, got {scaling!r}")
        try:
            return cls(
                world_size=int(data["worldSize"]),
                global_batch=int(data["globalBatch"]),
                per_device_batch=int(data["perDeviceBatch"]),
                grad_accum_steps=int(data["gradAccumSteps"]),
                reference_batch=int(data["referenceBatch"]),
                base_lr=float(data["baseLr"]),
                lr_scaling=lr_scaling,
                lr=float(data["lr"]),
            )
        except KeyError as error:
            raise ValueError(f"resolved hyperparameters lack {error.args[0]!r}") from error


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
) -> Resolved:
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
    reference = reference_batch or global_batch
    ratio = global_batch / reference
    factor = ratio if lr_scaling == "linear" else math.sqrt(ratio) if lr_scaling == "sqrt" else 1.0
    return Resolved(
        world_size=world_size,
        global_batch=global_batch,
        per_device_batch=global_batch // world_size // accum,
        grad_accum_steps=accum,
        reference_batch=reference,
        base_lr=base_lr,
        lr_scaling=lr_scaling,
        lr=base_lr * factor,
    )
