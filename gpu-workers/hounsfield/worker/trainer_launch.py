"""The command line and environment of a trainer process, derived from its assignment."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence

from hounsfield.contracts.models import Assignment, JobSpec
from hounsfield.sdk import platform_env as pe
from hounsfield.worker.attempt_dir import AttemptDir

_log = logging.getLogger(__name__)

TRAINERS_PACKAGE = "hounsfield.trainers"


def trainer_module(spec: JobSpec) -> tuple[str, list[str]]:
    """The module to run and its arguments: the user's for ``script`` jobs, else the built-in trainer."""
    if spec.kind == "script":
        if spec.script is None:
            raise ValueError("a script job needs script.module")
        return spec.script.module, [arg.root for arg in spec.script.args]
    return f"{TRAINERS_PACKAGE}.{spec.kind}", []


def launch_command(
    assignment: Assignment, python: str = sys.executable, launcher_options: Sequence[str] = ()
) -> list[str]:
    """torchrun's command line, run through ``hounsfield.worker.launcher`` to keep rank exit codes
    (and, with ``launcher_options``, to capture the ranks' output into the attempt's log)."""
    module, args = trainer_module(assignment.spec)
    return [
        python,
        "-m",
        "hounsfield.worker.launcher",
        *launcher_options,
        "--standalone",
        f"--nproc_per_node={assignment.nprocPerNode}",
        "-m",
        module,
        *args,
    ]


def _is_platform_owned(name: str) -> bool:
    return name == "CUDA_VISIBLE_DEVICES" or name.startswith("HOUNSFIELD_")


def trainer_env(
    assignment: Assignment, attempt_dir: AttemptDir, base_env: Mapping[str, str]
) -> dict[str, str]:
    """The trainer's environment: the agent's, the job's ``env``, then the platform's variables.

    Nothing platform-owned is inherited: CUDA_VISIBLE_DEVICES is always set explicitly ("" for CPU
    jobs) and the agent's own HOUNSFIELD_* settings are dropped, so a trainer never sees another
    job's devices or a stale resume path.
    """
    env = {name: value for name, value in base_env.items() if not _is_platform_owned(name)}
    for name, value in assignment.spec.env.items():
        if _is_platform_owned(name):
            _log.warning("job %s: env %s is set by the platform; ignored", assignment.jobId, name)
            continue
        env[name] = value
    env.setdefault("OMP_NUM_THREADS", "1")
    # Unbuffered output keeps the log (and its tail in a failure event) up to date.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["CUDA_VISIBLE_DEVICES"] = assignment.cudaVisibleDevices
    env[pe.ENV_JOB_ID] = assignment.jobId
    env[pe.ENV_ATTEMPT] = str(assignment.attempt)
    env[pe.ENV_WORKER_ID] = assignment.workerId
    env[pe.ENV_OUTPUT_DIR] = str(attempt_dir.output_dir)
    env[pe.ENV_REPORT_FILE] = str(attempt_dir.report_file)
    env[pe.ENV_RESOLVED] = assignment.resolved.model_dump_json()
    env[pe.ENV_JOB_CONFIG] = json.dumps(assignment.spec.config)
    env[pe.ENV_HYPERPARAMETERS] = assignment.spec.hyperparameters.model_dump_json(exclude_none=True)
    env[pe.ENV_CHECKPOINT_POLICY] = assignment.spec.checkpoint.model_dump_json(exclude_none=True)
    if assignment.resumeFrom is not None:
        env[pe.ENV_RESUME_FROM] = assignment.resumeFrom
    return env
