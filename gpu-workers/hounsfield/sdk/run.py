"""``Run``: what a trainer holds for one training run, under the platform or standalone.

Under the worker agent (HOUNSFIELD_CONTEXT names the attempt's context) rank 0 appends reports to
the agent's report file; standalone, progress is logged to the console and outputs go to
``./hounsfield-runs/<time>``.
All ranks can read the run's data; only rank 0 reports.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hounsfield.sdk.platform_env import ENV_REPORT_FILE, PlatformEnv
from hounsfield.sdk.report_format import encode_metric, notice_record, progress_record, runtime_record
from hounsfield.sdk.report_sink import ConsoleReportSink, FileReportSink, NullReportSink, ReportSink
from hounsfield.sdk.resolved import LrScaling, check_split, resolve_hyperparameters
from hounsfield.sdk.stop_signal import StopSignal

if TYPE_CHECKING:
    import torch

    from hounsfield.contracts.models import ResolvedHyperparameters, TrainerContext
    from hounsfield.sdk.checkpoint import CheckpointContext, LoadedCheckpoint

_log = logging.getLogger("hounsfield.sdk")

STANDALONE_ROOT = Path("hounsfield-runs")


def _standalone_output_dir(root: Path, environ: Mapping[str, str], world_size: int) -> Path:
    """A fresh directory per standalone run; all ranks of one torchrun share torchrun's run id."""
    run_id = environ.get("TORCHELASTIC_RUN_ID")
    if world_size > 1 and run_id:
        return root / run_id
    base = root / datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, suffix = base, 2
    while candidate.exists():
        candidate, suffix = base.with_name(f"{base.name}-{suffix}"), suffix + 1
    return candidate


def _ensure_console_logging() -> None:
    """Standalone scripts often configure no logging; then INFO progress would be invisible."""
    if not _log.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        _log.addHandler(handler)
        _log.setLevel(logging.INFO)


class Run:
    """One training process's view of its run. Build it with ``Run.from_env()`` (or ``init()``)."""

    def __init__(
        self,
        *,
        env: PlatformEnv,
        output_dir: Path,
        resolved: ResolvedHyperparameters | None,
        sink: ReportSink,
        stop: StopSignal,
    ) -> None:
        self._env = env
        self.output_dir = output_dir
        self.resolved = resolved
        self._sink = sink
        self._stop = stop
        self._resume_override: str | None = None
        self._recipe: dict[str, str] | None = None
        self._provenance: dict[str, str] = {}

    @classmethod
    def from_env(
        cls,
        *,
        global_batch: int | None = None,
        base_lr: float | None = None,
        reference_batch: int | None = None,
        lr_scaling: LrScaling = "linear",
        max_per_device_batch: int | None = None,
        output_dir: str | Path | None = None,
        resume_from: str | Path | None = None,
        handle_sigterm: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> Run:
        """Reads the environment, creates the output directory and (rank 0) reports the runtime.

        The batch arguments are the standalone fallback: under the platform the resolved values
        of the trainer context win. ``output_dir`` likewise only applies outside the platform.
        ``resume_from`` (standalone) names a checkpoint directory to resume from instead of the
        newest one in the output directory. With ``handle_sigterm`` SIGTERM sets ``should_stop``
        instead of ending the process.
        """
        environment = os.environ if environ is None else environ
        # The runtime record goes out before the context is read and validated: it is what tells
        # the platform the trainer runs (and the contract models take a moment to import).
        sink = _early_sink(environment)
        announced = sink is not None
        if sink is not None:
            sink.write(_runtime(environment))
        env = PlatformEnv.read(environment)
        if env.resolved is not None:
            resolved: ResolvedHyperparameters | None = check_split(env.resolved)
        elif global_batch is not None and base_lr is not None:
            resolved = resolve_hyperparameters(
                global_batch=global_batch,
                base_lr=base_lr,
                world_size=env.world_size,
                reference_batch=reference_batch,
                lr_scaling=lr_scaling,
                max_per_device_batch=max_per_device_batch,
            )
        else:
            resolved = None

        if env.output_dir is not None:
            directory = env.output_dir
        elif output_dir is not None:
            directory = Path(output_dir)
        else:
            directory = _standalone_output_dir(STANDALONE_ROOT, environment, env.world_size)
        directory.mkdir(parents=True, exist_ok=True)

        if sink is None:
            if env.rank != 0:
                sink = NullReportSink()
            elif env.report_file is not None:
                sink = FileReportSink(env.report_file)
            else:
                _ensure_console_logging()
                sink = ConsoleReportSink()

        stop = StopSignal()
        if handle_sigterm:
            stop.install()
        run = cls(env=env, output_dir=directory, resolved=resolved, sink=sink, stop=stop)
        if env.context is None and resume_from is not None:
            run._resume_override = str(resume_from)
        if not announced:
            sink.write(_runtime(environment))
        return run

    # --- what the trainer reads -------------------------------------------------------------

    @property
    def rank(self) -> int:
        return self._env.rank

    @property
    def world_size(self) -> int:
        return self._env.world_size

    @property
    def local_rank(self) -> int:
        return self._env.local_rank

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that reports and writes shared outputs."""
        return self._env.rank == 0

    @property
    def managed(self) -> bool:
        """True under the worker agent, False for a standalone run."""
        return self._env.managed

    @property
    def context(self) -> TrainerContext | None:
        """The attempt's whole context under the platform (spec, resolved batch, paths); None standalone."""
        return self._env.context

    @property
    def job_id(self) -> str | None:
        return self._env.job_id

    @property
    def attempt(self) -> int | None:
        return self._env.attempt

    @property
    def config(self) -> dict[str, Any]:
        """The job's trainer configuration (``spec.config``); empty standalone."""
        return self._env.config

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The job's hyperparameters as submitted (``spec.hyperparameters``); empty standalone."""
        return self._env.hyperparameters

    @property
    def checkpoint_policy(self) -> dict[str, Any]:
        """The job's checkpoint policy as submitted (``spec.checkpoint``); empty standalone."""
        return self._env.checkpoint_policy

    @property
    def resume_from(self) -> str | None:
        """The checkpoint the scheduler chose to resume from, if any."""
        return self._env.resume_from or self._resume_override

    @property
    def init_from(self) -> str | None:
        """A checkpoint directory to take initial weights from (``spec.checkpoint.initFrom``), if any."""
        return self._env.init_from

    @property
    def data_root(self) -> Path | None:
        """The dataset root the worker's preflight resolved from ``spec.data.root``, if any."""
        return self._env.data_root

    @property
    def should_stop(self) -> bool:
        """True once this process received SIGTERM: checkpoint, then return and exit 0."""
        return self._stop.requested

    def should_stop_all_ranks(self) -> bool:
        """``should_stop`` agreed over all ranks (a collective: call it on every rank at the same step).

        Ranks can receive SIGTERM a step apart; if one leaves the loop while the others wait in
        an all-reduce, DDP hangs until the agent kills it. Agreeing first avoids that.
        """
        if self.world_size <= 1:
            return self.should_stop
        import torch  # noqa: PLC0415 - the SDK must import without torch
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized():
            return self.should_stop
        flag = torch.tensor([1 if self.should_stop else 0], dtype=torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    # --- what the trainer reports -----------------------------------------------------------

    def report(
        self,
        step: int,
        metrics: Mapping[str, Any],
        *,
        epoch: float | None = None,
        total_steps: int | None = None,
        lr: float | None = None,
        samples_per_second: float | None = None,
        data_wait_seconds: float | None = None,
        step_seconds: float | None = None,
    ) -> None:
        """Reports progress (rank 0; a no-op elsewhere). NaN/±Inf metrics are kept as strings."""
        if not self.is_main:
            return
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        encoded = {str(name): encode_metric(value) for name, value in metrics.items()}
        self._sink.write(
            progress_record(
                step=int(step),
                metrics=encoded,
                epoch=_non_negative("epoch", epoch),
                total_steps=total_steps,
                lr=_non_negative("lr", lr),
                samples_per_second=_non_negative("samples_per_second", samples_per_second),
                data_wait_seconds=_non_negative("data_wait_seconds", data_wait_seconds),
                step_seconds=_non_negative("step_seconds", step_seconds),
            )
        )

    # --- checkpoints ------------------------------------------------------------------------

    def save_checkpoint(
        self,
        state: Mapping[str, Any],
        step: int,
        *,
        epoch: float | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> Path:
        """Saves a checkpoint of ``step`` and returns its directory; call it on every rank.

        ``state["model"]`` (a state dict) is stored as safetensors; ``optimizer``, ``ema``,
        ``scaler``, ``rng``, ``sampler`` (``{"global_index": int}``) and any other key with
        ``torch.save`` of CPU tensors. Rank 0 writes the directory atomically (parents created) and
        the worker agent uploads it; the other ranks wait until it is complete.
        """
        from hounsfield.sdk.checkpoint import save_checkpoint  # noqa: PLC0415 - keeps torch out of SDK import

        return save_checkpoint(self.checkpoint_context(), state, step, epoch=epoch, metrics=metrics)

    def load_checkpoint(self, *, device: torch.device | str | None = None) -> LoadedCheckpoint | None:
        """The checkpoint to resume from (``.state``, ``.meta``, ``.step``), or None for a fresh start.

        Tensors are loaded onto ``device`` (default: this rank's GPU, else the CPU), whatever world
        size saved them; pickled state is read with ``weights_only=True``.
        """
        from hounsfield.sdk.checkpoint import load_checkpoint  # noqa: PLC0415 - keeps torch out of SDK import

        return load_checkpoint(self.checkpoint_context(), device)

    def checkpoint_context(self) -> CheckpointContext:
        """What this run's checkpoints are written with (for platform tools such as legacy import)."""
        from hounsfield.sdk.checkpoint import CheckpointContext  # noqa: PLC0415

        return CheckpointContext(
            env=self._env,
            output_dir=self.output_dir,
            resolved=self.resolved,
            config=self.config,
            hyperparameters=self.hyperparameters,
            announce=self._sink.write,
            resume_from=self.resume_from,
            recipe=self._recipe,
            provenance=dict(self._provenance),
        )

    def describe_checkpoints(
        self, *, recipe: Mapping[str, str] | None = None, provenance: Mapping[str, str] | None = None
    ) -> None:
        """What every later checkpoint's meta records: the recipe (kind, version, preset) and
        provenance (a data manifest hash, a frozen network's sha256, a warm start's source)."""
        if recipe is not None:
            self._recipe = {str(k): str(v) for k, v in recipe.items()}
        if provenance:
            self._provenance.update({str(k): str(v)[:512] for k, v in provenance.items()})

    def report_event(
        self, kind: str, message: str, details: Mapping[str, Any] | None = None, *, warning: bool = False
    ) -> None:
        """A notable thing the job's events should show (rank 0): logged here, and relayed by the
        agent as a notice event the job record keeps (``kind`` like ``warm_start``)."""
        if not self.is_main:
            return
        _log.log(logging.WARNING if warning else logging.INFO, "%s: %s", kind, message)
        self._sink.write(notice_record(kind, message, dict(details or {}), "warning" if warning else "info"))

    def close(self) -> None:
        self._sink.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _early_sink(environment: Mapping[str, str]) -> ReportSink | None:
    """The report sink known from the environment alone: rank 0's file (HOUNSFIELD_REPORT_FILE, set
    by the agent beside the context, or standalone by a tool that reads the records), or no sink
    for the other ranks; None when it takes the context (or the console) to decide."""
    if PlatformEnv.ranks(environment)[0] != 0:
        return NullReportSink()
    report_file = environment.get(ENV_REPORT_FILE)
    return FileReportSink(Path(report_file)) if report_file else None


def _runtime(environment: Mapping[str, str]) -> dict[str, Any]:
    return runtime_record(
        cuda_visible_devices=environment.get("CUDA_VISIBLE_DEVICES", ""),
        world_size=PlatformEnv.ranks(environment)[1],
        hostname=socket.gethostname(),
        pid=os.getpid(),
    )


def _non_negative(name: str, value: float | None) -> float | None:
    """Optional fields must be finite and >= 0 in the contract; a bad one is dropped, not fatal."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        _log.warning("report: %s=%r is not a finite non-negative number; left out", name, value)
        return None
    return number


def init(**kwargs: Any) -> Run:
    """Shorthand for ``Run.from_env(**kwargs)``."""
    return Run.from_env(**kwargs)
