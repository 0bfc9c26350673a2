"""The contract between the worker agent and a trainer process: one validated context document.

For every attempt the agent writes ``context.json`` (the ``TrainerContext`` contract generated from
``libs/contracts``: job id, attempt, worker, the job spec, the resolved batch and learning rate,
and the attempt's local paths) into the attempt directory and sets HOUNSFIELD_CONTEXT to its path.
torchrun sets RANK, WORLD_SIZE and LOCAL_RANK. Nothing else is read from the environment, so the
two sides cannot drift apart: a context the SDK cannot validate fails the trainer at once with a
message naming the field.

HOUNSFIELD_REPORT_FILE is also set, for the launcher, which records launch errors before anything
is imported; the context's ``paths.reportFile`` holds the same path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hounsfield.contracts.models import ResolvedHyperparameters, TrainerContext, TrainingJobSpec

ENV_CONTEXT = "HOUNSFIELD_CONTEXT"
ENV_REPORT_FILE = "HOUNSFIELD_REPORT_FILE"

#: The file name of the context inside an attempt directory.
CONTEXT_FILE = "context.json"


class PlatformEnvError(ValueError):
    """The platform's context cannot be read (names the variable or the field)."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise PlatformEnvError(f"{name} must be an integer, got {raw!r}") from error


def read_context(path: Path) -> TrainerContext:
    """Loads and validates a context file; the error names the file and the invalid fields.

    The contract models are imported here, not with the SDK: importing them takes a moment, and a
    plain script that uses the SDK standalone never needs them.
    """
    from pydantic import ValidationError  # noqa: PLC0415

    from hounsfield.contracts.models import TrainerContext  # noqa: PLC0415

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PlatformEnvError(f"{ENV_CONTEXT}={path}: cannot read the trainer context ({error})") from error
    try:
        return TrainerContext.model_validate_json(text)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or '<root>'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise PlatformEnvError(
            f"{ENV_CONTEXT}={path} is not a valid trainer context ({problems}); the worker's hounsfield "
            "package and the trainer's disagree: run the trainer with the worker's installation"
        ) from error


@dataclass(frozen=True)
class PlatformEnv:
    """Where this process sits (torchrun's ranks) and, under the agent, its attempt's context."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    context: TrainerContext | None = None

    @property
    def managed(self) -> bool:
        """True when the worker agent started this process."""
        return self.context is not None

    @property
    def job_id(self) -> str | None:
        return None if self.context is None else self.context.jobId

    @property
    def attempt(self) -> int | None:
        return None if self.context is None else self.context.attempt

    @property
    def worker_id(self) -> str | None:
        return None if self.context is None else self.context.workerId

    @property
    def output_dir(self) -> Path | None:
        return None if self.context is None else Path(self.context.paths.outputDir)

    @property
    def report_file(self) -> Path | None:
        return None if self.context is None else Path(self.context.paths.reportFile)

    @property
    def resolved(self) -> ResolvedHyperparameters | None:
        return None if self.context is None else self.context.resolved

    @property
    def config(self) -> dict[str, Any]:
        spec = self._training_spec()
        return {} if spec is None else dict(spec.config)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        spec = self._training_spec()  # none standalone, and none for internal tasks
        return {} if spec is None else spec.hyperparameters.model_dump(mode="json", exclude_none=True)

    @property
    def checkpoint_policy(self) -> dict[str, Any]:
        from hounsfield.contracts.models import CheckpointImportJobSpec, TrainingJobSpec  # noqa: PLC0415

        spec = None if self.context is None else self.context.spec
        if not isinstance(spec, TrainingJobSpec | CheckpointImportJobSpec):
            return {}
        return spec.checkpoint.model_dump(mode="json", exclude_none=True)

    def _training_spec(self) -> TrainingJobSpec | None:
        """The spec when this process runs a training (not an internal task, not standalone)."""
        if self.context is None:
            return None
        from hounsfield.contracts.models import TrainingJobSpec  # noqa: PLC0415

        spec = self.context.spec
        return spec if isinstance(spec, TrainingJobSpec) else None

    @property
    def resume_from(self) -> str | None:
        return None if self.context is None else self.context.paths.resumeFrom

    @property
    def init_from(self) -> str | None:
        return None if self.context is None else self.context.paths.initFrom

    @property
    def data_root(self) -> Path | None:
        root = None if self.context is None else self.context.paths.dataRoot
        return None if root is None else Path(root)

    @staticmethod
    def ranks(environ: Mapping[str, str]) -> tuple[int, int, int]:
        """torchrun's RANK, WORLD_SIZE and LOCAL_RANK (0, 1, 0 when not under torchrun)."""
        return _int(environ, "RANK", 0), _int(environ, "WORLD_SIZE", 1), _int(environ, "LOCAL_RANK", 0)

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> PlatformEnv:
        """Reads torchrun's RANK/WORLD_SIZE/LOCAL_RANK and the context HOUNSFIELD_CONTEXT names."""
        env = os.environ if environ is None else environ
        path = env.get(ENV_CONTEXT)
        return cls(
            rank=_int(env, "RANK", 0),
            world_size=_int(env, "WORLD_SIZE", 1),
            local_rank=_int(env, "LOCAL_RANK", 0),
            context=read_context(Path(path)) if path else None,
        )
