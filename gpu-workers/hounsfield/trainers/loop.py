"""The training loop shared by the trainers.

One optimizer step consumes one global batch: ``grad_accum_steps`` micro-batches of
``per_device_batch`` samples on each of ``world_size`` processes, in the global order of
``GlobalOrderSampler``. Gradients are all-reduced once per step (DDP ``no_sync`` on the other
micro-batches), so every step equals one step on one process with the whole global batch.

Every ``log_every`` steps rank 0 reports through the SDK: the loss (mean over the window and all
ranks), gradient norm, learning rate, samples/s, the time per step spent waiting for the
DataLoader, the step time and the epoch. When any rank has been asked to stop (SIGTERM), all
ranks finish the current step, save a checkpoint and return; the trainer then exits 0.

Checkpoints go through the SDK (``Run.save_checkpoint``/``load_checkpoint``): the weights under
``model``, the optimizer under ``optimizer``, the EMA under ``ema``, ``sampler`` =
``{"global_index": ...}`` (where the global sample order continues, at any world size) and
``rng``. A run resumes from the checkpoint the SDK names: the agent's resume checkpoint
(HOUNSFIELD_RESUME_FROM) or, standalone, the newest one in the output directory.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from hounsfield.diffusion import EMA
from hounsfield.sdk import Resolved, Run
from hounsfield.trainers.ddp import DistributedContext, all_reduce_max, all_reduce_sum, wrap_model
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.sampler import GlobalOrderSampler, PositionedDataset, position_seed

_log = logging.getLogger(__name__)

Batch = dict[str, Any]
LossFn = Callable[[nn.Module, Batch], Tensor]
"""``(model, micro-batch on the device) -> mean loss of the micro-batch`` (a scalar)."""


@dataclass(frozen=True)
class BatchPlan:
    """How one global batch is split, and the learning rate it is trained with."""

    global_batch: int
    per_device_batch: int
    grad_accum_steps: int
    world_size: int
    lr: float

    @classmethod
    def from_resolved(cls, resolved: Resolved) -> BatchPlan:
        plan = cls(
            global_batch=resolved.global_batch,
            per_device_batch=resolved.per_device_batch,
            grad_accum_steps=resolved.grad_accum_steps,
            world_size=resolved.world_size,
            lr=resolved.lr,
        )
        if plan.per_device_batch * plan.grad_accum_steps * plan.world_size != plan.global_batch:
            raise TrainerError(TrainerErrorCode.NO_BATCH_PLAN, f"inconsistent resolved batch {resolved}")
        return plan


@dataclass(frozen=True)
class LoopSettings:
    total_steps: int
    log_every: int
    checkpoint_every: int | None
    grad_clip: float | None
    bf16: bool
    num_workers: int
    seed: int
    time_limit_seconds: float | None = None
    time_limit_clock: Literal["wall", "cpu"] = "wall"


@dataclass(frozen=True)
class LoopResult:
    steps_done: int
    global_index: int
    stopped: bool
    last_loss: float | None
    checkpoint: str | None


def batch_to(batch: Batch, device: torch.device) -> Batch:
    """Tensors of a collated batch on ``device`` (strings and lists stay as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}


def autocast_for(device: torch.device, bf16: bool) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA when asked; nothing on the CPU (slow there and not what we measure)."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def make_loader(
    dataset: Dataset[Batch],
    plan: BatchPlan,
    context: DistributedContext,
    seed: int,
    start_index: int,
    workers: int,
) -> DataLoader[Batch]:
    sampler = GlobalOrderSampler(
        len(dataset),  # type: ignore[arg-type]
        per_device_batch=plan.per_device_batch,
        rank=context.rank,
        world_size=context.world_size,
        seed=seed,
        start_index=start_index,
    )
    return DataLoader(
        PositionedDataset(dataset, seed),
        batch_size=plan.per_device_batch,
        sampler=sampler,  # type: ignore[arg-type]
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=context.device.type == "cuda",
    )


def accumulate_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    micro_batches: Iterator[Batch],
    accum_steps: int,
    device: torch.device,
    bf16: bool,
) -> tuple[float, float]:
    """Forward/backward over ``accum_steps`` micro-batches; returns (mean loss, data-wait seconds).

    ``model`` may be DDP-wrapped: gradients are synchronised on the last micro-batch only.
    """
    loss_sum, waited = 0.0, 0.0
    for micro in range(accum_steps):
        fetch = time.perf_counter()
        batch = batch_to(next(micro_batches), device)
        waited += time.perf_counter() - fetch
        last = micro == accum_steps - 1
        sync = model.no_sync() if isinstance(model, DistributedDataParallel) and not last else nullcontext()
        with sync:
            with autocast_for(device, bf16):
                loss = loss_fn(model, batch)
            (loss.float() / accum_steps).backward()
        loss_sum += float(loss.detach())
    return loss_sum / accum_steps, waited


class TrainingLoop:
    """Runs the steps of one training process; build it, then call :meth:`run`."""

    def __init__(
        self,
        *,
        run: Run,
        context: DistributedContext,
        model: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        dataset: Dataset[Batch],
        plan: BatchPlan,
        settings: LoopSettings,
        ema: EMA | None = None,
    ) -> None:
        self.run_ = run
        self.context = context
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.dataset = dataset
        self.plan = plan
        self.settings = settings
        self.ema = ema
        self.step = 0
        self.global_index = 0
        self._rng_restored = False

    def resume(self) -> None:
        """Loads the checkpoint the SDK names (the agent's resume checkpoint, or standalone the
        newest in the output directory), if any; every rank reads it."""
        loaded = self.run_.load_checkpoint(device="cpu")  # CPU: RNG states must stay CPU tensors
        if loaded is None:
            return
        state = loaded.state
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        self.step = loaded.step
        if "rng" in state and self.context.world_size == 1:
            _restore_rng(state["rng"])
            self._rng_restored = True
        self.global_index = int(state["sampler"]["global_index"])
        _log.info("resumed from %s at step %d (global sample %d)", loaded.path, self.step, self.global_index)

    def state(self) -> dict[str, Any]:
        """The training state, in the SDK's keys (tensors are moved to the CPU when saved)."""
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": {"global_index": self.global_index},
            "rng": _rng_state(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def save(self, metrics: Mapping[str, float]) -> str:
        """Saves through the SDK (a collective: rank 0 writes, every rank waits for it)."""
        path = self.run_.save_checkpoint(self.state(), self.step, epoch=self.epoch, metrics=metrics)
        return str(path)

    @property
    def epoch(self) -> float:
        return self.global_index / len(self.dataset)  # type: ignore[arg-type]

    def _clock(self) -> float:
        return time.process_time() if self.settings.time_limit_clock == "cpu" else time.monotonic()

    def _stop_reason(self, started: float) -> str | None:
        """Why all ranks leave now (any rank's SIGTERM, or the time limit), agreed by all-reduce."""
        limit = self.settings.time_limit_seconds
        over_time = limit is not None and self._clock() - started >= limit
        flags = all_reduce_max([float(self.run_.should_stop), float(over_time)], self.context)
        if flags[0] > 0:
            return "stop requested"
        return "time limit reached" if flags[1] > 0 else None

    def run(self) -> LoopResult:
        self.resume()
        if not self._rng_restored:
            # The global RNG only drives dropout (samples draw from position seeds): one stream per
            # rank and per resume point, so ranks drop different units and runs are reproducible.
            torch.manual_seed(position_seed(self.settings.seed, self.step, stream=100 + self.context.rank))
        plan, settings, context = self.plan, self.settings, self.context
        ddp_model = wrap_model(self.model, context)
        loader = make_loader(
            self.dataset, plan, context, settings.seed, self.global_index, settings.num_workers
        )
        batches = iter(loader)
        params = [p for p in self.model.parameters() if p.requires_grad]
        window = _Window()
        start_step, stopped, last_loss, checkpoint = self.step, False, None, None
        ddp_model.train()
        loop_started = self._clock()
        while self.step < settings.total_steps:
            reason = self._stop_reason(loop_started)
            if reason is not None:
                stopped = reason == "stop requested"
                _log.info("%s: leaving after step %d", reason, self.step)
                break
            started = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss, waited = accumulate_gradients(
                ddp_model, self.loss_fn, batches, plan.grad_accum_steps, context.device, settings.bf16
            )
            clip = settings.grad_clip if settings.grad_clip is not None else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            self.step += 1
            self.global_index += plan.global_batch
            window.add(loss, grad_norm, waited, time.perf_counter() - started)
            if self.step % settings.log_every == 0 or self.step == settings.total_steps:
                last_loss = self._report(window)
                window = _Window()
            every = settings.checkpoint_every
            if every is not None and self.step % every == 0 and self.step < settings.total_steps:
                checkpoint = self.save({"loss": last_loss} if last_loss is not None else {})
        if window.steps:
            last_loss = self._report(window)
        if self.step > start_step:
            checkpoint = self.save({"loss": last_loss} if last_loss is not None else {})
        return LoopResult(self.step - start_step, self.global_index, stopped, last_loss, checkpoint)

    def _report(self, window: _Window) -> float:
        loss_sum, grad_sum = all_reduce_sum([window.loss, window.grad_norm], self.context)
        ranks_steps = window.steps * self.context.world_size
        loss, grad_norm = loss_sum / ranks_steps, grad_sum / ranks_steps
        self.run_.report(
            self.step,
            {"loss": loss, "gradNorm": grad_norm},
            epoch=self.epoch,
            total_steps=self.settings.total_steps,
            lr=self.plan.lr,
            samples_per_second=self.plan.global_batch * window.steps / max(window.seconds, 1e-9),
            data_wait_seconds=window.waited / window.steps,
            step_seconds=window.seconds / window.steps,
        )
        return loss


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _restore_rng(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class _Window:
    """Sums over the steps since the last report."""

    def __init__(self) -> None:
        self.steps = 0
        self.loss = 0.0
        self.grad_norm = 0.0
        self.waited = 0.0
        self.seconds = 0.0

    def add(self, loss: float, grad_norm: float, waited: float, seconds: float) -> None:
        self.steps += 1
        self.loss += loss
        self.grad_norm += grad_norm
        self.waited += waited
        self.seconds += seconds
