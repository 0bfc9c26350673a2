"""PyTorch Lightning on the platform: an existing ``LightningModule`` script runs as a ``script`` job.

Add a few lines to the script (it keeps running standalone too)::

    from hounsfield.integrations.lightning import HounsfieldLightning
    from hounsfield.sdk import Run

    hf = HounsfieldLightning(Run.from_env())
    trainer = L.Trainer(..., logger=hf.logger, callbacks=[hf.callback], plugins=[hf.checkpoint_io])
    trainer.fit(model, datamodule, ckpt_path=hf.resume_path)

- ``logger``: what the module logs (``self.log``) becomes progress events (rank 0), and the
  hyperparameters a notice on the job.
- ``callback``: step/epoch progress with the total, step time and samples/s; the platform's stop
  request (SIGTERM: cancel, preemption) becomes a graceful stop with a checkpoint, agreed by all
  ranks so that DDP never hangs.
- ``checkpoint_io``: Lightning's checkpoints are saved in the platform's format (weights as
  safetensors, the rest as CPU tensors read back with ``weights_only=True``) and uploaded by the
  worker; ``resume_path`` is the checkpoint the platform resumes a restarted attempt from (or the
  newest one in the output directory standalone), so the next attempt continues at the same
  global step. Lightning's own retention is left to the platform (``checkpoint.keepLast``).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.sdk import Run
from hounsfield.sdk.checkpoint import resume_source, save_checkpoint

_log = logging.getLogger(__name__)

#: The state key Lightning's weights go under (safetensors); everything else goes under ``lightning``.
MODEL_KEY = "model"
LIGHTNING_KEY = "lightning"


class _Progress:
    """What the logger and the callback share: the planned number of optimizer steps."""

    total_steps: int | None = None


class HounsfieldLightning:
    """The logger, callback and checkpoint plugin for one run, and the checkpoint to resume from."""

    def __init__(self, run: Run, *, report_every_n_steps: int = 1) -> None:
        self.run = run
        shared = _Progress()
        self.logger = HounsfieldLogger(run, shared)
        self.callback = HounsfieldCallback(run, shared, report_every_n_steps=report_every_n_steps)
        self.checkpoint_io = HounsfieldCheckpointIO(run)

    @property
    def resume_path(self) -> str | None:
        """For ``trainer.fit(..., ckpt_path=…)``: the platform's resume checkpoint, or None."""
        source = resume_source(self.run.checkpoint_context())
        return None if source is None else str(source)


class HounsfieldLogger(Logger):
    def __init__(self, run: Run, shared: _Progress | None = None) -> None:
        super().__init__()
        self._run = run
        self._shared = shared or _Progress()

    @property
    def name(self) -> str:
        return "hounsfield"

    @property
    def version(self) -> str:
        return f"{self._run.job_id}-{self._run.attempt}" if self._run.job_id else "standalone"

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        scalars = {k: float(v) for k, v in metrics.items() if k != "epoch"}
        if scalars:
            epoch = metrics.get("epoch")
            self._run.report(
                max(0, int(step or 0)),
                scalars,
                epoch=None if epoch is None else float(epoch),
                total_steps=self._shared.total_steps,
            )

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        flat = _flatten(dict(params) if isinstance(params, Mapping) else vars(params))
        if flat:
            self._run.report_event(
                "hyperparameters", ", ".join(f"{k}={v}" for k, v in sorted(flat.items()))[:4000], flat
            )


class HounsfieldCallback(Callback):
    def __init__(self, run: Run, shared: _Progress | None = None, *, report_every_n_steps: int = 1) -> None:
        if report_every_n_steps < 1:
            raise ValueError(f"report_every_n_steps must be >= 1, got {report_every_n_steps}")
        self._run = run
        self._shared = shared or _Progress()
        self._every = report_every_n_steps
        self._last_time: float | None = None
        self._last_step = 0
        # The Run's SIGTERM handler (a stop request), installed before this callback was made.
        self._stop_handler = signal.getsignal(signal.SIGTERM)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Lightning's own SIGTERM handling ends fit with an exception at the next batch, without a
        # checkpoint; the platform's is a stop request this callback turns into a graceful stop.
        # (Lightning restores the handlers it replaced when fit ends.)
        if callable(self._stop_handler):
            signal.signal(signal.SIGTERM, self._stop_handler)
        planned = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if planned is None:
            estimated = trainer.estimated_stepping_batches
            planned = int(estimated) if estimated != float("inf") else None
        self._shared.total_steps = planned
        self._last_time, self._last_step = time.monotonic(), trainer.global_step

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step != self._last_step and step % self._every == 0:
            now = time.monotonic()
            elapsed = now - (self._last_time or now)
            steps = step - self._last_step
            step_seconds = elapsed / steps if steps > 0 and elapsed > 0 else None
            size = _batch_size(batch)
            rate = size * trainer.world_size / step_seconds if size and step_seconds else None
            self._run.report(
                step,
                _scalars(trainer.callback_metrics),
                epoch=float(trainer.current_epoch),
                total_steps=self._shared.total_steps,
                step_seconds=step_seconds,
                samples_per_second=rate,
            )
            self._last_time, self._last_step = now, step
        # A collective on every rank: they leave the loop at the same step.
        if self._run.should_stop_all_ranks():
            self._run.report_event(
                "graceful_stop", f"stop requested: saving a checkpoint at step {step} and stopping"
            )
            trainer.save_checkpoint(str(self._run.output_dir / "stop.ckpt"))
            trainer.should_stop = True


class HounsfieldCheckpointIO(CheckpointIO):
    """Lightning's checkpoint dict in the platform's format; the path Lightning names is not used."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._saved_steps: set[int] = set()

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        step = int(checkpoint.get("global_step", 0))
        if step in self._saved_steps:
            return  # Lightning may save one step twice (a periodic save and a stop): one is enough
        rest = {k: v for k, v in checkpoint.items() if k != "state_dict"}
        state = {MODEL_KEY: dict(checkpoint["state_dict"]), LIGHTNING_KEY: _plain(rest)}
        # Lightning calls this on rank 0 only and synchronises the ranks itself.
        save_checkpoint(
            self._run.checkpoint_context(),
            state,
            step,
            epoch=float(checkpoint.get("epoch", 0)),
            collective=False,
        )
        self._saved_steps.add(step)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        state, meta = read_checkpoint(Path(path), "cpu")
        restored: dict[str, Any] = dict(state[LIGHTNING_KEY])
        restored["state_dict"] = state[MODEL_KEY]
        _log.info("resuming Lightning from step %d (%s)", meta.step, path)
        return restored

    def remove_checkpoint(self, path: Any) -> None:
        """Retention is the platform's (``checkpoint.keepLast``); Lightning's removals are ignored."""


def _plain(value: Any) -> Any:
    """Containers of tensors and primitives only, so the state loads with ``weights_only=True``."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, int | str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif value is None or isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            out[name] = float(value.item())
        elif isinstance(value, int | float):
            out[name] = float(value)
    return out


def _batch_size(batch: Any) -> int | None:
    first = batch[0] if isinstance(batch, list | tuple) and batch else batch
    if isinstance(first, Mapping) and first:
        first = next(iter(first.values()))
    return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.dim() > 0 else None
