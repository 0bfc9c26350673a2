"""One optimizer step's forward/backward work: micro-batches, accumulation, auxiliary networks.

One optimizer step consumes one global batch: ``gradAccumSteps`` micro-batches of
``perDeviceBatch`` samples on each of ``worldSize`` processes. Gradients are all-reduced once per
step (DDP ``no_sync`` on the other micro-batches), so every step equals one step on one process
with the whole global batch. Auxiliary networks (a discriminator) run after the main loss on each
micro-batch, with their own DDP wrapper and the same synchronisation rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from hounsfield.trainers.parts import AuxiliaryUpdate, Batch, LossFn, LossOutput, as_loss_output


def batch_to(batch: Batch, device: torch.device) -> Batch:
    """Tensors of a collated batch on ``device`` (strings and lists stay as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}


def autocast_for(device: torch.device, bf16: bool) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA when asked; nothing on the CPU (slow there and not what we measure)."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _sync(model: nn.Module, last: bool) -> AbstractContextManager[Any]:
    """DDP all-reduces gradients only on the last micro-batch of a step."""
    if last:
        return nullcontext()
    inner = getattr(model, "_orig_mod", model)  # a compiled DDP module keeps no_sync on the original
    return inner.no_sync() if isinstance(inner, DistributedDataParallel) else nullcontext()


def set_requires_grad(module: nn.Module, enabled: bool) -> None:
    for param in module.parameters():
        param.requires_grad_(enabled)


def _restore(module: nn.Module, trainable: dict[int, bool]) -> None:
    for param in module.parameters():
        param.requires_grad_(trainable[id(param)])


@dataclass
class StepLosses:
    """Mean losses of one step over its micro-batches (this rank), by reported name."""

    values: dict[str, float] = field(default_factory=dict)
    waited: float = 0.0

    @property
    def loss(self) -> float:
        return self.values["loss"]

    def add(self, name: str, value: Tensor, accum_steps: int) -> None:
        self.values[name] = self.values.get(name, 0.0) + float(value.detach()) / accum_steps


@dataclass(frozen=True)
class ActiveAuxiliary:
    """An auxiliary update as the step runs it: the spec, its (possibly DDP-wrapped) module."""

    spec: AuxiliaryUpdate
    wrapped: nn.Module


def _detached(output: LossOutput) -> LossOutput:
    return LossOutput(
        total=output.total.detach(),
        terms={k: v.detach() for k, v in output.terms.items()},
        outputs={k: v.detach() for k, v in output.outputs.items()},
    )


def accumulate_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    micro_batches: Iterator[Batch],
    accum_steps: int,
    device: torch.device,
    bf16: bool,
    step: int = 0,
    auxiliary: Sequence[ActiveAuxiliary] = (),
) -> StepLosses:
    """Forward/backward over ``accum_steps`` micro-batches (gradients accumulate in ``.grad``).

    ``model`` may be DDP-wrapped (and compiled). Every auxiliary network is frozen while the main
    loss runs; those past their start step then train on the same micro-batch. Reported names:
    ``loss`` (the main total),
    ``loss.<term>`` for its terms, ``loss.<aux>`` and ``loss.<aux>.<term>`` for auxiliary networks.
    """
    losses = StepLosses()
    # Each auxiliary parameter's own flag (a discriminator may hold frozen parts of its own).
    trainable = {id(p): p.requires_grad for aux in auxiliary for p in aux.spec.module.parameters()}
    try:
        for micro in range(accum_steps):
            fetch = time.perf_counter()
            batch = batch_to(next(micro_batches), device)
            losses.waited += time.perf_counter() - fetch
            last = micro == accum_steps - 1
            for aux in auxiliary:
                set_requires_grad(aux.spec.module, False)
            with _sync(model, last):
                with autocast_for(device, bf16):
                    output = as_loss_output(loss_fn(model, batch, step))
                (output.total.float() / accum_steps).backward()
            losses.add("loss", output.total, accum_steps)
            for name, value in output.terms.items():
                losses.add(f"loss.{name}", value, accum_steps)
            shared = _detached(output)
            for aux in auxiliary:
                if step < aux.spec.start_step:
                    continue
                _restore(aux.spec.module, trainable)
                with _sync(aux.wrapped, last):
                    with autocast_for(device, bf16):
                        aux_output = as_loss_output(aux.spec.loss_fn(aux.wrapped, batch, shared, step))
                    (aux_output.total.float() / accum_steps).backward()
                losses.add(f"loss.{aux.spec.name}", aux_output.total, accum_steps)
                for name, value in aux_output.terms.items():
                    losses.add(f"loss.{aux.spec.name}.{name}", value, accum_steps)
    finally:
        for aux in auxiliary:
            _restore(aux.spec.module, trainable)
    return losses


class ReportWindow:
    """Sums over the steps since the last report (this rank)."""

    def __init__(self) -> None:
        self.steps = 0
        self.losses: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.grad_norm = 0.0
        self.waited = 0.0
        self.seconds = 0.0

    def add(self, losses: StepLosses, grad_norm: float, seconds: float) -> None:
        self.steps += 1
        for name, value in losses.values.items():
            self.losses[name] = self.losses.get(name, 0.0) + value
            self.counts[name] = self.counts.get(name, 0) + 1
        self.grad_norm += grad_norm
        self.waited += losses.waited
        self.seconds += seconds
