"""Running a recipe's validation on every rank and averaging what the ranks saw.

Each rank validates its share of the cases (``ValidationRequest.shard``) and returns metric sums
and a case count; the sums and counts are all-reduced, so the means are over every case once,
whatever the world size. Metric names are agreed first (a rank with no cases returns none).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from hounsfield.diffusion import EMA
from hounsfield.trainers.ddp import DistributedContext, all_reduce_sum
from hounsfield.trainers.parts import ValidationRequest, Validator
from hounsfield.trainers.step import autocast_for

_log = logging.getLogger(__name__)

VALIDATION_PREFIX = "val."


def _agreed_names(names: list[str], context: DistributedContext) -> list[str]:
    if not context.distributed:
        return sorted(names)
    gathered: list[list[str] | None] = [None] * context.world_size
    dist.all_gather_object(gathered, names)
    return sorted({name for part in gathered for name in (part or [])})


def run_validation(
    validate: Validator,
    model: nn.Module,
    ema: EMA | None,
    step: int,
    context: DistributedContext,
    output_dir: Path,
    bf16: bool,
) -> dict[str, float]:
    """The mean of each metric over all ranks' cases, named ``val.<metric>``; {} without cases."""
    was_training = model.training
    model.eval()
    try:
        request = ValidationRequest(
            model=model,
            ema=ema,
            step=step,
            device=context.device,
            rank=context.rank,
            world_size=context.world_size,
            output_dir=output_dir,
        )
        with torch.no_grad(), autocast_for(context.device, bf16):
            result = validate(request)
    finally:
        model.train(was_training)
    names = _agreed_names([str(name) for name in result.sums], context)
    totals = all_reduce_sum([float(result.count), *(float(result.sums.get(n, 0.0)) for n in names)], context)
    count = totals[0]
    if count <= 0:
        _log.warning("validation at step %d saw no cases", step)
        return {}
    means = {f"{VALIDATION_PREFIX}{name}": totals[1 + i] / count for i, name in enumerate(names)}
    _log.info(
        "validation at step %d over %d case(s): %s",
        step,
        int(count),
        ", ".join(f"{k}={v:.4g}" for k, v in means.items()),
    )
    return means
