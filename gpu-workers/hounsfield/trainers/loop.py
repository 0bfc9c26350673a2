"""The training loop every recipe shares.

Per optimizer step (see ``step``): one global batch in the global sample order of
``GlobalOrderSampler``, split over ``worldSize`` processes and ``gradAccumSteps`` micro-batches,
gradients all-reduced once, clipped, the learning rate set by the schedule, the optimiser stepped
(and the auxiliary networks' optimisers), the EMA updated.

Every ``log_every`` steps rank 0 reports through the SDK: ``loss`` and each ``loss.<term>`` (means
over the window and all ranks), gradient norm, learning rate, samples/s, data-wait and step time,
epoch. Every ``validation.everySteps`` and after the last step the recipe's validation runs and
its means are reported as ``val.<metric>`` (and attached to a checkpoint saved at that step).
Checkpoints are saved every ``checkpoint_every`` steps, every ``checkpoint_every_epochs`` epochs
and at the end. When any rank has been asked to stop (SIGTERM) or the time limit is reached, all
ranks finish the current step, save a checkpoint and return.

Checkpoint state keys: ``model``, ``optimizer``, ``ema``, ``sampler`` (``{"global_index": ...}``:
where the global sample order continues, at any world size), ``rng``, ``lr_schedule``, and for each
auxiliary network ``aux-<name>`` and ``aux-<name>-optimizer``. A run resumes from the checkpoint the
SDK names (the agent's resume checkpoint, or standalone the newest in the output directory).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hounsfield.contracts.models import ResolvedHyperparameters
from hounsfield.sdk import Run
from hounsfield.trainers.config_base import LrScheduleConfig, OptimizerConfig, ValidationConfig
from hounsfield.trainers.ddp import DistributedContext, all_reduce_max, all_reduce_sum, wrap_model
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.optim import LrSchedule, build_optimizer, trainable_parameters
from hounsfield.trainers.parts import Batch, SupportsGradientCheckpointing, TrainingParts
from hounsfield.trainers.sampler import GlobalOrderSampler, PositionedDataset, position_seed
from hounsfield.trainers.step import ActiveAuxiliary, ReportWindow, accumulate_gradients
from hounsfield.trainers.validation import run_validation

_log = logging.getLogger(__name__)


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
    checkpoint_every_epochs: float | None = None
    optimizer: OptimizerConfig = OptimizerConfig()
    lr_schedule: LrScheduleConfig = LrScheduleConfig()
    validation: ValidationConfig = ValidationConfig()
    gradient_checkpointing: bool = False
    compile: bool = False
    compile_backend: str = "inductor"


@dataclass(frozen=True)
class LoopResult:
    steps_done: int
    global_index: int
    stopped: bool
    last_loss: float | None
    checkpoint: str | None
    validation: Mapping[str, float]


def make_loader(
    dataset: Dataset[Batch],
    resolved: ResolvedHyperparameters,
    context: DistributedContext,
    seed: int,
    start_index: int,
    workers: int,
) -> DataLoader[Batch]:
    sampler = GlobalOrderSampler(
        len(dataset),  # type: ignore[arg-type]
        per_device_batch=resolved.perDeviceBatch,
        rank=context.rank,
        world_size=context.world_size,
        seed=seed,
        start_index=start_index,
    )
    return DataLoader(
        PositionedDataset(dataset, seed),
        batch_size=resolved.perDeviceBatch,
        sampler=sampler,  # type: ignore[arg-type]
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=context.device.type == "cuda",
    )


class TrainingLoop:
    """Runs the steps of one training process; build it, then call :meth:`run`."""

    def __init__(
        self,
        *,
        run: Run,
        context: DistributedContext,
        parts: TrainingParts,
        resolved: ResolvedHyperparameters,
        settings: LoopSettings,
    ) -> None:
        self.run_ = run
        self.context = context
        self.parts = parts
        self.model = parts.model
        self.dataset = parts.dataset
        self.resolved = resolved
        self.settings = settings
        self.ema = parts.ema
        self.optimizer = build_optimizer(trainable_parameters(self.model), settings.optimizer, resolved.lr)
        self.aux_optimizers: dict[str, torch.optim.Optimizer] = {}
        for aux in parts.auxiliary:
            if not aux.name.replace("_", "").isalnum():
                raise TrainerError(
                    TrainerErrorCode.INVALID_CONFIG, f"auxiliary name {aux.name!r}: letters, digits, _"
                )
            self.aux_optimizers[aux.name] = build_optimizer(
                trainable_parameters(aux.module),
                settings.optimizer,
                resolved.lr * aux.lr_factor,
                owner=aux.name,
            )
        self.schedule = LrSchedule(
            settings.lr_schedule, settings.total_steps, [self.optimizer, *self.aux_optimizers.values()]
        )
        self.step = 0
        self.global_index = 0
        self._rng_restored = False
        if settings.gradient_checkpointing:
            if not isinstance(self.model, SupportsGradientCheckpointing):
                raise TrainerError(
                    TrainerErrorCode.INVALID_CONFIG,
                    f"{type(self.model).__name__} does not support gradient checkpointing; "
                    "remove gradientCheckpointing from the config",
                )
            self.model.set_gradient_checkpointing(True)

    # --- state ------------------------------------------------------------------------------

    def resume(self) -> None:
        """Loads the checkpoint the SDK names (the agent's resume checkpoint, or standalone the
        newest in the output directory), if any; every rank reads it."""
        loaded = self.run_.load_checkpoint(device="cpu")  # CPU: RNG states must stay CPU tensors
        if loaded is None:
            return
        state = loaded.state
        self.model.load_state_dict(_without_data_parallel(state["model"]))
        if "optimizer" in state:
            self._load_optimizer(state["optimizer"], loaded.path)
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        elif self.ema is not None:
            self.ema.reset_to(self.model)
        for aux in self.parts.auxiliary:
            if f"aux-{aux.name}" in state:
                aux.module.load_state_dict(state[f"aux-{aux.name}"])
                self.aux_optimizers[aux.name].load_state_dict(state[f"aux-{aux.name}-optimizer"])
        self.step = loaded.step
        if "rng" in state and self.context.world_size == 1:
            _restore_rng(state["rng"])
            self._rng_restored = True
        self.global_index = self._resume_index(state, loaded.epoch)
        _log.info("resumed from %s at step %d (global sample %d)", loaded.path, self.step, self.global_index)

    def _load_optimizer(self, optimizer_state: dict[str, Any], path: object) -> None:
        try:
            self.optimizer.load_state_dict(optimizer_state)
        except (ValueError, KeyError) as error:
            # An imported file's optimiser may come from another layout; the weights still hold.
            _log.warning("optimizer state of %s does not fit (%s); the optimizer starts fresh", path, error)

    def _resume_index(self, state: Mapping[str, Any], epoch: float | None) -> int:
        """Where the global sample order continues: the saved position, or for an imported file
        (no sampler state) the start of the epoch it recorded, on a global-batch boundary."""
        sampler = state.get("sampler")
        if isinstance(sampler, Mapping) and "global_index" in sampler:
            return int(sampler["global_index"])
        size = len(self.dataset)  # type: ignore[arg-type]
        batch = self.resolved.globalBatch
        by_epoch = int((epoch or 0.0) * size) // batch * batch
        index = max(by_epoch, self.step * batch)
        _log.info("the checkpoint has no sample position; continuing at global sample %d", index)
        return index

    def state(self) -> dict[str, Any]:
        """The training state, in the SDK's keys (tensors are moved to the CPU when saved)."""
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": {"global_index": self.global_index},
            "rng": _rng_state(),
            "lr_schedule": self.schedule.state_dict(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        for aux in self.parts.auxiliary:
            state[f"aux-{aux.name}"] = aux.module.state_dict()
            state[f"aux-{aux.name}-optimizer"] = self.aux_optimizers[aux.name].state_dict()
        return state

    def save(self, metrics: Mapping[str, float]) -> str:
        """Saves through the SDK (a collective: rank 0 writes, every rank waits for it)."""
        path = self.run_.save_checkpoint(self.state(), self.step, epoch=self.epoch, metrics=metrics)
        return str(path)

    @property
    def epoch(self) -> float:
        return self.global_index / len(self.dataset)  # type: ignore[arg-type]

    # --- the loop ---------------------------------------------------------------------------

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

    def _wrap(self, module: nn.Module) -> nn.Module:
        wrapped = wrap_model(module, self.context)
        if self.settings.compile:
            compiled: nn.Module = torch.compile(wrapped, backend=self.settings.compile_backend)  # type: ignore[assignment]
            return compiled
        return wrapped

    def _epoch_boundary(self, before: int) -> bool:
        every = self.settings.checkpoint_every_epochs
        if every is None:
            return False
        span = every * len(self.dataset)  # type: ignore[arg-type]
        return math.floor(self.global_index / span) > math.floor(before / span)

    def _validation_due(self) -> bool:
        every = self.settings.validation.every_steps
        return self.parts.validate is not None and every is not None and self.step % every == 0

    def run(self) -> LoopResult:
        self.resume()
        if not self._rng_restored:
            # The global RNG only drives dropout (samples draw from position seeds): one stream per
            # rank and per resume point, so ranks drop different units and runs are reproducible.
            torch.manual_seed(position_seed(self.settings.seed, self.step, stream=100 + self.context.rank))
        resolved, settings, context = self.resolved, self.settings, self.context
        model = self._wrap(self.model)
        auxiliary = [ActiveAuxiliary(aux, self._wrap(aux.module)) for aux in self.parts.auxiliary]
        loader = make_loader(
            self.dataset, resolved, context, settings.seed, self.global_index, settings.num_workers
        )
        batches = iter(loader)
        params = trainable_parameters(self.model)
        window = ReportWindow()
        start_step, stopped, last_loss, checkpoint = self.step, False, None, None
        validation: dict[str, float] = {}
        model.train()
        for aux in auxiliary:
            aux.wrapped.train()
        loop_started = self._clock()
        while self.step < settings.total_steps:
            reason = self._stop_reason(loop_started)
            if reason is not None:
                stopped = reason == "stop requested"
                _log.info("%s: leaving after step %d", reason, self.step)
                break
            started = time.perf_counter()
            self.schedule.apply(self.step)
            active = [aux for aux in auxiliary if self.step >= aux.spec.start_step]
            self.optimizer.zero_grad(set_to_none=True)
            for aux in active:
                self.aux_optimizers[aux.spec.name].zero_grad(set_to_none=True)
            losses = accumulate_gradients(
                model,
                self.parts.loss_fn,
                batches,
                resolved.gradAccumSteps,
                context.device,
                settings.bf16,
                self.step,
                auxiliary,
            )
            clip = settings.grad_clip if settings.grad_clip is not None else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
            self.optimizer.step()
            for aux in active:
                self.aux_optimizers[aux.spec.name].step()
            if self.ema is not None:
                self.ema.update(self.model)
            before = self.global_index
            self.step += 1
            self.global_index += resolved.globalBatch
            window.add(losses, grad_norm, time.perf_counter() - started)
            last_step = self.step == settings.total_steps
            if self.step % settings.log_every == 0 or last_step:
                last_loss = self._report(window)
                window = ReportWindow()
            validation = {}
            if self._validation_due() or (last_step and self._final_validation()):
                validation = self._validate()
            periodic = settings.checkpoint_every is not None and self.step % settings.checkpoint_every == 0
            if (periodic or self._epoch_boundary(before)) and not last_step:
                checkpoint = self.save(_checkpoint_metrics(last_loss, validation))
        if window.steps:
            last_loss = self._report(window)
        if self.step > start_step:
            checkpoint = self.save(_checkpoint_metrics(last_loss, validation))
        return LoopResult(
            self.step - start_step, self.global_index, stopped, last_loss, checkpoint, validation
        )

    def _final_validation(self) -> bool:
        return (
            self.parts.validate is not None and self.settings.validation.at_end and not self._validation_due()
        )

    def _validate(self) -> dict[str, float]:
        assert self.parts.validate is not None
        means = run_validation(
            self.parts.validate,
            self.model,
            self.ema,
            self.step,
            self.context,
            self.run_.output_dir,
            self.settings.bf16,
        )
        if means:
            self.run_.report(self.step, means, epoch=self.epoch, total_steps=self.settings.total_steps)
        return means

    def _report(self, window: ReportWindow) -> float:
        names = sorted(window.losses)
        sums = all_reduce_sum([window.grad_norm, *(window.losses[n] for n in names)], self.context)
        ranks = self.context.world_size
        grad_norm = sums[0] / (window.steps * ranks)
        metrics = {name: sums[1 + i] / (window.counts[name] * ranks) for i, name in enumerate(names)}
        metrics["gradNorm"] = grad_norm
        self.run_.report(
            self.step,
            metrics,
            epoch=self.epoch,
            total_steps=self.settings.total_steps,
            lr=self.optimizer.param_groups[0]["lr"],
            samples_per_second=self.resolved.globalBatch * window.steps / max(window.seconds, 1e-9),
            data_wait_seconds=window.waited / window.steps,
            step_seconds=window.seconds / window.steps,
        )
        return metrics["loss"]


def _without_data_parallel(weights: Mapping[str, Any]) -> dict[str, Any]:
    """Weights saved from a DataParallel/DDP module (every key ``module.``-prefixed) fit the bare one."""
    if weights and all(str(key).startswith("module.") for key in weights):
        return {str(key)[len("module.") :]: value for key, value in weights.items()}
    return dict(weights)


def _checkpoint_metrics(last_loss: float | None, validation: Mapping[str, float]) -> dict[str, float]:
    metrics = dict(validation)
    if last_loss is not None:
        metrics["loss"] = last_loss
    return metrics


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _restore_rng(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
