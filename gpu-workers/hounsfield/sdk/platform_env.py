"""The environment contract between the worker agent and a trainer process.

The agent sets these variables for every attempt it starts (see ``hounsfield.worker.trainer_env``);
the SDK reads them. Keeping the names in this one module means both sides cannot drift apart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_JOB_ID = "HOUNSFIELD_JOB_ID"
ENV_ATTEMPT = "HOUNSFIELD_ATTEMPT"
ENV_WORKER_ID = "HOUNSFIELD_WORKER_ID"
ENV_OUTPUT_DIR = "HOUNSFIELD_OUTPUT_DIR"
ENV_REPORT_FILE = "HOUNSFIELD_REPORT_FILE"
ENV_RESOLVED = "HOUNSFIELD_RESOLVED"
ENV_JOB_CONFIG = "HOUNSFIELD_JOB_CONFIG"
ENV_HYPERPARAMETERS = "HOUNSFIELD_HYPERPARAMETERS"
ENV_RESUME_FROM = "HOUNSFIELD_RESUME_FROM"
ENV_CHECKPOINT_POLICY = "HOUNSFIELD_CHECKPOINT_POLICY"
#: The dataset root named in the spec, resolved by the worker's preflight inside its data roots.
ENV_DATA_ROOT = "HOUNSFIELD_DATA_ROOT"

#: Every variable the platform owns in a trainer's environment (a job's own ``env`` cannot set them).
PLATFORM_VARIABLES = (
    ENV_JOB_ID,
    ENV_ATTEMPT,
    ENV_WORKER_ID,
    ENV_OUTPUT_DIR,
    ENV_REPORT_FILE,
    ENV_RESOLVED,
    ENV_JOB_CONFIG,
    ENV_HYPERPARAMETERS,
    ENV_RESUME_FROM,
)


class PlatformEnvError(ValueError):
    """A platform variable holds something the SDK cannot read (names the variable)."""


def _json_object(environ: Mapping[str, str], name: str) -> dict[str, Any] | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise PlatformEnvError(f"{name} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise PlatformEnvError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise PlatformEnvError(f"{name} must be an integer, got {raw!r}") from error


@dataclass(frozen=True)
class PlatformEnv:
    """What a trainer process learns from its environment: torchrun's ranks and the agent's job data."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    job_id: str | None = None
    attempt: int | None = None
    worker_id: str | None = None
    output_dir: Path | None = None
    report_file: Path | None = None
    resolved: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    resume_from: str | None = None
    checkpoint_policy: dict[str, Any] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        """True when the worker agent started this process (it always sets the report file)."""
        return self.report_file is not None

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> PlatformEnv:
        """Reads torchrun's RANK/WORLD_SIZE/LOCAL_RANK and the HOUNSFIELD_* variables."""
        env = os.environ if environ is None else environ
        attempt = env.get(ENV_ATTEMPT)
        output_dir = env.get(ENV_OUTPUT_DIR)
        report_file = env.get(ENV_REPORT_FILE)
        return cls(
            rank=_int(env, "RANK", 0),
            world_size=_int(env, "WORLD_SIZE", 1),
            local_rank=_int(env, "LOCAL_RANK", 0),
            job_id=env.get(ENV_JOB_ID) or None,
            attempt=_int(env, ENV_ATTEMPT, 0) if attempt else None,
            worker_id=env.get(ENV_WORKER_ID) or None,
            output_dir=Path(output_dir) if output_dir else None,
            report_file=Path(report_file) if report_file else None,
            resolved=_json_object(env, ENV_RESOLVED),
            config=_json_object(env, ENV_JOB_CONFIG) or {},
            hyperparameters=_json_object(env, ENV_HYPERPARAMETERS) or {},
            resume_from=env.get(ENV_RESUME_FROM) or None,
            checkpoint_policy=_json_object(env, ENV_CHECKPOINT_POLICY) or {},
        )
