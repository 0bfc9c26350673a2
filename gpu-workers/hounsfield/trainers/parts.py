"""What a recipe hands the shared training loop: model, loss, data, and optional extras.

A recipe's ``build`` returns :class:`TrainingParts`. The loop builds the optimiser (over the
model's trainable parameters only), the learning-rate schedule, DDP, autocast and checkpoints; the
recipe only says what to train and how to score it:

* ``loss_fn(model, batch, step)`` returns the micro-batch's mean loss, either as a tensor or as a
  :class:`LossOutput` whose ``terms`` are reported as ``loss.<term>`` progress metrics;
* ``auxiliary`` networks (a GAN discriminator) are trained on the same micro-batches with their
  own optimiser, after the main loss, from their ``start_step``;
* ``validate`` is called every ``validation.everySteps`` and at the end on every rank; the loop
  averages what the ranks return and reports it as ``val.<metric>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from hounsfield.diffusion import EMA

Batch = dict[str, Any]


@dataclass(frozen=True)
class LossOutput:
    """A micro-batch's loss: ``total`` is what is minimised; ``terms`` are reported separately.

    ``outputs`` carries tensors the auxiliary updates need (for example the reconstruction a
    discriminator scores), so the forward pass runs once.
    """

    total: Tensor
    terms: Mapping[str, Tensor] = field(default_factory=dict)
    outputs: Mapping[str, Tensor] = field(default_factory=dict)


LossFn = Callable[[nn.Module, Batch, int], "Tensor | LossOutput"]
"""``(model, micro-batch on the device, optimizer step) -> mean loss of the micro-batch``."""

AuxiliaryLossFn = Callable[[nn.Module, Batch, LossOutput, int], "Tensor | LossOutput"]
"""``(auxiliary module, micro-batch, the main loss's output, step) -> its mean loss``."""


def as_loss_output(value: Tensor | LossOutput) -> LossOutput:
    return value if isinstance(value, LossOutput) else LossOutput(total=value)


@dataclass(frozen=True)
class AuxiliaryUpdate:
    """A second network trained alternately with the model on the same micro-batches.

    While the main loss runs, this module's parameters do not require gradients (the main loss may
    run the module, for example a generator's adversarial term, without training it). Then
    ``loss_fn`` runs and only this module's parameters are updated, by an optimiser built from the
    same optimiser config with ``lr × lr_factor``. Nothing happens before ``start_step``.
    """

    name: str
    module: nn.Module
    loss_fn: AuxiliaryLossFn
    start_step: int = 0
    lr_factor: float = 1.0


@dataclass(frozen=True)
class ValidationRequest:
    """What a recipe's validation sees. The loop has put the model in eval mode under no_grad."""

    model: nn.Module
    ema: EMA | None
    step: int
    device: torch.device
    rank: int
    world_size: int
    output_dir: Path

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[Any]) -> list[Any]:
        """This rank's share of the validation items (every ``world_size``-th from ``rank``)."""
        return list(items[self.rank :: self.world_size])


@dataclass(frozen=True)
class ValidationResult:
    """Sums of each metric over this rank's cases and how many cases there were."""

    sums: Mapping[str, float]
    count: int


Validator = Callable[[ValidationRequest], ValidationResult]


@runtime_checkable
class SupportsGradientCheckpointing(Protocol):
    """Models that can trade compute for memory implement this (``gradientCheckpointing: true``)."""

    def set_gradient_checkpointing(self, enabled: bool) -> None: ...


@dataclass
class TrainingParts:
    """Everything a recipe builds for one training process (see the module docstring)."""

    model: nn.Module
    loss_fn: LossFn
    dataset: Dataset[Batch]
    ema: EMA | None = None
    auxiliary: Sequence[AuxiliaryUpdate] = ()
    validate: Validator | None = None
    #: Extra provenance for every checkpoint's meta (a data manifest hash, a frozen network's sha256).
    checkpoint_meta: Mapping[str, str] = field(default_factory=dict)


def unwrap(model: nn.Module) -> nn.Module:
    """The module itself, without the DDP or ``torch.compile`` wrappers the loop may put around it."""
    inner: Any = model
    while True:
        if isinstance(inner, nn.parallel.DistributedDataParallel):
            inner = inner.module
        elif hasattr(inner, "_orig_mod") and isinstance(inner._orig_mod, nn.Module):
            inner = inner._orig_mod
        else:
            return inner  # type: ignore[no-any-return]
