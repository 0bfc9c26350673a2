"""The command line and environment of a trainer process, derived from its assignment.

Internal task kinds run built-in modules of this package (``BUILTIN_TASKS``) with arguments taken
from their typed payloads (references only). Those tasks, and only they, get the worker's NATS
access in their environment: they ask the services for what they need (grants, contexts) over
the worker's own subjects. A user's trainer never sees the worker's credentials.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping

from hounsfield.contracts.models import (
    Assignment,
    CheckpointImportJobSpec,
    EvaluationShardJobSpec,
    TrainingJobSpec,
)
from hounsfield.sdk import platform_env as pe
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.nats_connection import NatsAccess

_log = logging.getLogger(__name__)

TRAINERS_PACKAGE = "hounsfield.trainers"
#: The module each internal task kind runs.
BUILTIN_TASKS = {
    "evaluation_shard": "hounsfield.evaluation.shard",
    "checkpoint_import": "hounsfield.checkpoints.import_job",
}

JobSpec = TrainingJobSpec | EvaluationShardJobSpec | CheckpointImportJobSpec


def is_builtin_task(spec: JobSpec) -> bool:
    return not isinstance(spec, TrainingJobSpec)


def trainer_module(spec: JobSpec) -> tuple[str, list[str]]:
    """The module to run and its arguments: a built-in task's, the user's for ``script`` jobs, else
    the built-in trainer."""
    if isinstance(spec, EvaluationShardJobSpec):
        return BUILTIN_TASKS[spec.kind], ["--evaluation", spec.evaluationShard.evaluationId]
    if isinstance(spec, CheckpointImportJobSpec):
        task = spec.checkpointImport
        args = ["--import", task.importId, "--name", task.fileName, "--format", task.format]
        return BUILTIN_TASKS[spec.kind], [
            *args,
            *(["--step", str(task.step)] if task.step is not None else []),
        ]
    if spec.kind == "script":
        if spec.script is None:
            raise ValueError("a script job needs script.module")
        return spec.script.module, [arg.root for arg in spec.script.args]
    return f"{TRAINERS_PACKAGE}.{spec.kind}", []


def launch_command(assignment: Assignment, python: str = sys.executable) -> list[str]:
    """torchrun's command line, run through ``hounsfield.worker.launcher`` to keep rank exit codes."""
    module, args = trainer_module(assignment.spec)
    return [
        python,
        "-m",
        "hounsfield.worker.launcher",
        "--standalone",
        f"--nproc_per_node={assignment.nprocPerNode}",
        "-m",
        module,
        *args,
    ]


def _is_platform_owned(name: str) -> bool:
    return name == "CUDA_VISIBLE_DEVICES" or name.startswith("HOUNSFIELD_")


def trainer_env(
    assignment: Assignment,
    attempt_dir: AttemptDir,
    base_env: Mapping[str, str],
    task_nats: NatsAccess | None = None,
) -> dict[str, str]:
    """The trainer's environment: the agent's, the job's ``env``, then the platform's variables.

    Nothing platform-owned is inherited: CUDA_VISIBLE_DEVICES is always set explicitly ("" for CPU
    jobs) and the agent's own HOUNSFIELD_* settings are dropped, so a trainer never sees another
    job's devices or a stale resume path.
    """
    spec = assignment.spec
    env = {name: value for name, value in base_env.items() if not _is_platform_owned(name)}
    for name, value in (spec.env if isinstance(spec, TrainingJobSpec) else {}).items():
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
    if assignment.resolved is not None:
        env[pe.ENV_RESOLVED] = assignment.resolved.model_dump_json()
    if isinstance(spec, TrainingJobSpec):
        env[pe.ENV_JOB_CONFIG] = json.dumps(spec.config)
        env[pe.ENV_HYPERPARAMETERS] = spec.hyperparameters.model_dump_json(exclude_none=True)
    if isinstance(spec, TrainingJobSpec | CheckpointImportJobSpec):
        env[pe.ENV_CHECKPOINT_POLICY] = spec.checkpoint.model_dump_json(exclude_none=True)
    if is_builtin_task(spec) and task_nats is not None:
        env.update(task_nats.env())
    if assignment.resumeFrom is not None:
        env[pe.ENV_RESUME_FROM] = assignment.resumeFrom
    return env
