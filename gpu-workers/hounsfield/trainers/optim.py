"""Optimisers and learning-rate schedules built from a recipe's config.

The optimiser only ever holds parameters that require gradients: a frozen sub-network (a
pretrained VAE, a fixed feature extractor) is never in it, so it can neither be updated by weight
decay nor hold optimiser state (the field report in which a frozen VAE's parameters crashed the
gradient scaler is the reason this is enforced here rather than left to each recipe).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from hounsfield.trainers.config_base import LrScheduleConfig, OptimizerConfig
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that require gradients, each once."""
    seen: set[int] = set()
    params = []
    for param in module.parameters():
        if param.requires_grad and id(param) not in seen:
            seen.add(id(param))
            params.append(param)
    return params


def build_optimizer(
    params: Iterable[nn.Parameter], config: OptimizerConfig, lr: float, *, owner: str = "the model"
) -> torch.optim.Optimizer:
    """Adam or AdamW over ``params`` (which must all require gradients) at learning rate ``lr``."""
    chosen = list(params)
    if not chosen:
        raise TrainerError(
            TrainerErrorCode.INVALID_CONFIG, f"{owner} has no trainable parameters (all require_grad=False)"
        )
    if any(not p.requires_grad for p in chosen):
        raise TrainerError(
            TrainerErrorCode.INVALID_CONFIG, f"{owner}: frozen parameters given to the optimiser"
        )
    kwargs = {"lr": lr, "betas": config.betas, "eps": config.eps, "weight_decay": config.weight_decay}
    if config.name == "adamw":
        return torch.optim.AdamW(chosen, **kwargs)  # type: ignore[arg-type]
    return torch.optim.Adam(chosen, **kwargs)  # type: ignore[arg-type]


def lr_factor(config: LrScheduleConfig, step: int, total_steps: int) -> float:
    """The factor of the base learning rate used for optimizer step ``step`` (0-based).

    Warm-up rises linearly to 1 over ``warmup_steps`` (step 0 uses 1/warmup, so no step trains at
    rate 0); cosine then decays to ``min_lr_ratio`` at the last step ``total_steps - 1``.
    """
    warmup = config.warmup_steps
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if config.name == "constant":
        return 1.0
    span = max(1, total_steps - 1 - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    floor = config.min_lr_ratio
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LrSchedule:
    """Sets every param group's learning rate to ``base × lr_factor(step)`` before each step.

    Stateless apart from the base rates (the step comes from the loop, which restores it on
    resume), so a resumed run continues the same curve whatever world size it resumes on. The
    groups are looked up on every call: loading an optimizer's state replaces its group dicts.
    """

    def __init__(self, config: LrScheduleConfig, total_steps: int, optimizers: list[torch.optim.Optimizer]):
        self.config = config
        self.total_steps = total_steps
        self._optimizers = optimizers
        self._bases = [[float(group["lr"]) for group in opt.param_groups] for opt in optimizers]

    def apply(self, step: int) -> float:
        """Sets the rates for ``step`` and returns the factor."""
        factor = lr_factor(self.config, step, self.total_steps)
        for optimizer, bases in zip(self._optimizers, self._bases, strict=True):
            for group, base in zip(optimizer.param_groups, bases, strict=True):
                group["lr"] = base * factor
        return factor

    def state_dict(self) -> dict[str, object]:
        return {
            "name": self.config.name,
            "total_steps": self.total_steps,
            "base_lrs": [base for bases in self._bases for base in bases],
        }
