"""``Run.save_checkpoint`` / ``Run.load_checkpoint``: the trainer's side of checkpoints.

Saving: rank 0 writes ``<output_dir>/checkpoints/step-<step>/`` atomically (see
``hounsfield.checkpoints``) and tells the worker agent, which uploads and commits it; every rank
then waits until rank 0 is done, so no process moves on (or exits) before the checkpoint exists.
The state must be the full training state as rank 0 holds it (DDP replicates it; sharded
optimizers gather to rank 0 first).

Loading: the checkpoint the agent downloaded and verified (the context's ``paths.resumeFrom``), or standalone
the newest complete one in the output directory; None when there is nothing to resume. Tensors
land on this process's device, whatever world size wrote them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hounsfield.checkpoints.layout import (
    CHECKPOINTS_DIR,
    FORMAT,
    FORMAT_VERSION,
    META_FILE,
    committed_checkpoints,
    step_dir_name,
)
from hounsfield.checkpoints.meta import config_hash
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.checkpoints.writer import write_checkpoint
from hounsfield.contracts.models import CheckpointMeta, ResolvedHyperparameters
from hounsfield.sdk.checkpoint_report import checkpoint_record
from hounsfield.sdk.platform_env import PlatformEnv
from hounsfield.sdk.report_format import encode_metric, utc_timestamp

_log = logging.getLogger("hounsfield.sdk")


class CheckpointError(RuntimeError):
    """Saving or loading a checkpoint failed; the message names the cause and the fix."""


@dataclass(frozen=True)
class CheckpointContext:
    """What a run contributes to its checkpoints (built by ``Run``)."""

    env: PlatformEnv
    output_dir: Path
    resolved: ResolvedHyperparameters | None
    config: Mapping[str, Any]
    hyperparameters: Mapping[str, Any]
    #: Writes a report record (rank 0's sink).
    announce: Callable[[dict[str, Any]], None] = field(repr=False)
    #: A checkpoint directory to resume from (else the newest in the output directory).
    resume_from: str | None = None
    #: The recipe that trains (``{"kind", "version", "preset"}``) and what the weights depend on,
    #: written into every checkpoint's meta (set by the training loop; empty for user scripts).
    recipe: Mapping[str, str] | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read back: ``state`` as it was saved (tensors on this process's device) and ``meta``."""

    state: dict[str, Any]
    meta: CheckpointMeta
    path: Path

    @property
    def step(self) -> int:
        return self.meta.step

    @property
    def epoch(self) -> float | None:
        return self.meta.epoch

    @property
    def global_sample_index(self) -> int | None:
        """Where the world-size independent sample order continues (``state['sampler']['global_index']``)."""
        return self.meta.globalSampleIndex


def save_checkpoint(
    context: CheckpointContext,
    state: Mapping[str, Any],
    step: int,
    *,
    epoch: float | None = None,
    metrics: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    collective: bool = True,
) -> Path:
    """Writes the checkpoint (rank 0), waits for it on every rank, returns its directory.

    ``source`` records where an imported checkpoint came from (legacy import): the contract's
    CheckpointMeta.source (kind, file, sha256, devices). ``collective=False`` is for frameworks
    that call their checkpoint writer on rank 0 only and synchronise the ranks themselves
    (Lightning's ``CheckpointIO``): rank 0 writes, and no rank waits here.
    """
    if step < 0:
        raise CheckpointError(f"step must be >= 0, got {step}")
    if epoch is not None and not epoch >= 0:
        raise CheckpointError(f"epoch must be a number >= 0, got {epoch!r}")
    target = context.output_dir / CHECKPOINTS_DIR / step_dir_name(step)
    failure: BaseException | None = None
    if context.env.rank == 0:
        try:
            encoded = {str(name): encode_metric(value) for name, value in (metrics or {}).items()}
            write_checkpoint(
                target, state, lambda files: _meta(context, state, step, epoch, encoded, files, source)
            )
            context.announce(checkpoint_record(step, target))
            _log.info("checkpoint step %d saved to %s", step, target)
        except BaseException as error:  # the other ranks must still leave the collective below
            failure = error
    if not collective:
        if failure is not None:
            raise failure
        return target
    if not _all_ranks_succeeded(failure is None, context.env.world_size):
        if failure is not None:
            raise failure
        raise CheckpointError(f"rank 0 could not write the checkpoint of step {step}; see rank 0's log")
    return target


def load_checkpoint(
    context: CheckpointContext, device: torch.device | str | None = None
) -> LoadedCheckpoint | None:
    """The checkpoint to resume from on this process's device, or None for a fresh start."""
    source = resume_source(context)
    if source is None:
        return None
    target = torch.device(device) if device is not None else _default_device(context.env)
    state, meta = read_checkpoint(source, target)
    expected = config_hash(context.config, context.hyperparameters)
    if meta.configHash is not None and meta.configHash != expected and context.env.rank == 0:
        _log.warning(
            "resuming %s, which was saved with another trainer config or hyperparameters (hash %s…, now %s…)",
            source,
            meta.configHash[:12],
            expected[:12],
        )
    if context.env.rank == 0:
        _log.info(
            "resuming from step %d (%s, saved by %d process(es), now %d)",
            meta.step,
            source,
            meta.worldSize,
            context.env.world_size,
        )
    return LoadedCheckpoint(state=state, meta=meta, path=source)


def resume_source(context: CheckpointContext) -> Path | None:
    """The checkpoint directory a run resumes from: the one named, else the newest committed, else None."""
    named = context.resume_from
    if named:
        path = Path(named)
        if not (path / META_FILE).is_file():
            raise CheckpointError(
                f"the resume checkpoint {named} is not a checkpoint directory (it has no {META_FILE}); "
                "point it at a step-… directory or start fresh"
            )
        return path
    found = committed_checkpoints(context.output_dir / CHECKPOINTS_DIR)
    return found[-1] if found else None


def _default_device(env: PlatformEnv) -> torch.device:
    return torch.device("cuda", env.local_rank) if torch.cuda.is_available() else torch.device("cpu")


def _meta(
    context: CheckpointContext,
    state: Mapping[str, Any],
    step: int,
    epoch: float | None,
    metrics: dict[str, float | str],
    files: dict[str, str],
    source: Mapping[str, Any] | None,
) -> CheckpointMeta:
    resolved = context.resolved
    meta = CheckpointMeta(
        format=FORMAT,
        formatVersion=FORMAT_VERSION,
        jobId=context.env.job_id,
        attempt=context.env.attempt,
        step=step,
        epoch=epoch,
        worldSize=context.env.world_size,
        resolved=resolved,
        globalSampleIndex=_global_sample_index(state),
        metrics=metrics,  # type: ignore[arg-type]
        configHash=config_hash(context.config, context.hyperparameters),
        stateFiles=files,  # type: ignore[arg-type]
        createdAt=utc_timestamp(),
        torchVersion=torch.__version__[:64],
    )
    extra: dict[str, Any] = {}
    if source is not None:
        extra["source"] = dict(source)
    if context.recipe is not None:
        extra["recipe"] = dict(context.recipe)
    if context.provenance:
        extra["provenance"] = dict(context.provenance)
    return meta if not extra else CheckpointMeta.model_validate({**meta.model_dump(), **extra})


def _global_sample_index(state: Mapping[str, Any]) -> int | None:
    sampler = state.get("sampler")
    if isinstance(sampler, Mapping):
        index = sampler.get("global_index")
        if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
            return index
        if isinstance(index, torch.Tensor) and index.numel() == 1:
            return int(index.item())
    return None


def _all_ranks_succeeded(ok: bool, world_size: int) -> bool:
    """Every rank learns whether rank 0 wrote the checkpoint (an all-reduce, so also a barrier)."""
    if world_size <= 1:
        return ok
    import torch.distributed as dist  # noqa: PLC0415 - only distributed runs need it

    if not (dist.is_available() and dist.is_initialized()):
        return ok
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )
    flag = torch.tensor([1 if ok else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())
