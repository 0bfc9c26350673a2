"""Warm starts: initial weights (only) from another checkpoint, as ``spec.checkpoint.initFrom`` asks.

The worker downloads and verifies the checkpoint the scheduler resolved from the reference and
names its directory in the trainer context (``paths.initFrom``). Only the weights are taken — the
optimiser, step, sample position and schedule start fresh — so this is a new training from
pretrained weights, not a resume (a restart of the same job resumes from its own checkpoints and
never comes here). Missing and unexpected keys are reported in the job's events; with ``strict``
(the default) any mismatch stops the attempt before training, naming the keys.
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from hounsfield.checkpoints.weights import describe, load_weights
from hounsfield.contracts.models import TrainingJobSpec
from hounsfield.diffusion import EMA
from hounsfield.sdk import Run
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

_log = logging.getLogger(__name__)


def warm_start(run: Run, model: nn.Module, source: Path, ema: EMA | None = None) -> None:
    """Loads ``source``'s weights into ``model`` (every rank) as the spec's ``initFrom`` says."""
    job = None if run.context is None else run.context.spec
    spec = job.checkpoint.initFrom if isinstance(job, TrainingJobSpec) else None
    strict = True if spec is None else spec.strict
    weights = "model" if spec is None else spec.weights
    ref = str(source) if spec is None else spec.ref
    if run.resume_from is not None:
        _log.info("resuming from the job's own checkpoint; initFrom %s is not applied", ref)
        return
    try:
        report = load_weights(model, source, strict=strict, weights=weights)
    except ValueError as error:
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, f"checkpoint.initFrom {ref}: {error}") from error
    if ema is not None:
        ema.reset_to(model)
    details = {**describe(report), "ref": ref, "weights": weights, "strict": strict}
    run.report_event(
        "warm_start",
        f"initial weights from {ref} ({weights}): {report.summary()}",
        details,
        warning=not report.complete,
    )
    run.describe_checkpoints(provenance={"initFrom": ref})
