"""The command line, environment and context file of a trainer process, from its assignment.

Internal task kinds run built-in modules of this package (``BUILTIN_TASKS``) with arguments taken
from their typed payloads (references only). Those tasks, and only they, get the worker's NATS
access in their environment: they ask the services for what they need (grants, contexts) over
the worker's own subjects. A user's trainer never sees the worker's credentials.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from hounsfield.contracts.models import (
    Assignment,
    CheckpointImportJobSpec,
    EvaluationShardJobSpec,
    TrainerContext,
    TrainerPaths,
    TrainingJobSpec,
)
from hounsfield.platform.nats import NatsAccess
from hounsfield.recipes.registry import RECIPES
from hounsfield.sdk import platform_env as pe
from hounsfield.worker.attempt_dir import AttemptDir

_log = logging.getLogger(__name__)

#: The module each internal task kind runs.
BUILTIN_TASKS = {
    "evaluation_shard": "hounsfield.evaluation.shard",
    "checkpoint_import": "hounsfield.checkpoints.import_job",
}

#: How long a node waits for node 0's rendezvous store (node 0 may still be fetching its checkpoint).
RENDEZVOUS_READ_TIMEOUT_SECONDS = 300

JobSpec = TrainingJobSpec | EvaluationShardJobSpec | CheckpointImportJobSpec


def is_builtin_task(spec: JobSpec) -> bool:
    return not isinstance(spec, TrainingJobSpec)


def trainer_module(spec: JobSpec) -> tuple[str, list[str]]:
    """The module to run and its arguments: a built-in task's, the user's for ``script`` jobs, else
    the kind's recipe package (``hounsfield.recipes.<kind>``; a kind without a recipe here names a
    module that does not exist, which the launcher reports as a launch error)."""
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
    return RECIPES.get(spec.kind, f"hounsfield.recipes.{spec.kind}"), []


def trainer_context(
    assignment: Assignment,
    attempt_dir: AttemptDir,
    *,
    resume_dir: Path | None = None,
    init_dir: Path | None = None,
    data_root: Path | None = None,
) -> TrainerContext:
    """The one document the trainer learns its attempt from (see ``hounsfield.sdk.platform_env``)."""
    resume = str(resume_dir) if resume_dir is not None else assignment.resumeFrom
    return TrainerContext(
        v=1,
        jobId=assignment.jobId,
        attempt=assignment.attempt,
        workerId=assignment.workerId,
        spec=assignment.spec,
        resolved=assignment.resolved,
        paths=TrainerPaths(
            outputDir=str(attempt_dir.output_dir),
            reportFile=str(attempt_dir.report_file),
            resumeFrom=resume,
            initFrom=None if init_dir is None else str(init_dir),
            dataRoot=None if data_root is None else str(data_root),
        ),
    )


def write_context(context: TrainerContext, attempt_dir: AttemptDir) -> Path:
    """Writes the context into the attempt directory (atomically) and returns its path."""
    path = attempt_dir.root / pe.CONTEXT_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(context.model_dump_json(exclude_none=True), encoding="utf-8")
    temporary.replace(path)
    return path


def launch_command(
    assignment: Assignment,
    python: str = sys.executable,
    launcher_options: Sequence[str] = (),
    local_address: str | None = None,
) -> list[str]:
    """torchrun's command line, run through ``hounsfield.worker.launcher`` to keep rank exit codes
    (and, with ``launcher_options``, to capture the ranks' output into the attempt's log)."""
    module, args = trainer_module(assignment.spec)
    return [
        python,
        "-m",
        "hounsfield.worker.launcher",
        *launcher_options,
        *rendezvous_arguments(assignment, local_address),
        f"--nproc_per_node={assignment.nprocPerNode}",
        "-m",
        module,
        *args,
    ]


def rendezvous_arguments(assignment: Assignment, local_address: str | None = None) -> list[str]:
    """``--standalone`` for a one-node attempt; for a node of a multi-node attempt, torchrun's c10d
    rendezvous on node 0's worker with this node's rank (the launcher makes the rendezvous honour
    it) and ``local_address``, the address this worker advertises: node 0's becomes every rank's
    MASTER_ADDR, so the other nodes reach it there."""
    node = assignment.node
    if node is None:
        return ["--standalone"]
    is_host = "true" if node.nodeRank == 0 else "false"
    return [
        f"--nnodes={node.nnodes}",
        f"--node_rank={node.nodeRank}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={node.rdzvHost}:{node.rdzvPort}",
        f"--rdzv_id={node.rdzvId}",
        # Node 0 hosts the rendezvous store itself (is_host); the others only connect to it.
        # A node that starts before node 0 waits for its store up to read_timeout seconds.
        f"--rdzv_conf=is_host={is_host},read_timeout={RENDEZVOUS_READ_TIMEOUT_SECONDS}",
        *([f"--local_addr={local_address}"] if local_address else []),
    ]


def threads_per_process(assignment: Assignment, cpu_slots: int, gpu_count: int) -> int:
    """A process's share of the worker's CPU slots: one slot per process of a CPU job (that is
    what placement counted); for a GPU job, the slots per GPU of the worker."""
    if not assignment.gpuIndices:
        return 1
    return max(1, cpu_slots // max(gpu_count, 1))


def _is_platform_owned(name: str) -> bool:
    return name == "CUDA_VISIBLE_DEVICES" or name.startswith("HOUNSFIELD_")


def cuda_visible_devices(assignment: Assignment, gpu_devices: Sequence[int] | None = None) -> str:
    """The trainer's CUDA_VISIBLE_DEVICES: the assignment's GPU indices, mapped to the node's
    device indices when the worker reports some of them only (``gpu_devices``)."""
    if gpu_devices is None or not assignment.gpuIndices:
        return assignment.cudaVisibleDevices
    return ",".join(str(gpu_devices[index.root]) for index in assignment.gpuIndices)


def trainer_env(
    assignment: Assignment,
    attempt_dir: AttemptDir,
    base_env: Mapping[str, str],
    context_file: Path,
    task_nats: NatsAccess | None = None,
    threads_per_process: int = 1,
    gpu_devices: Sequence[int] | None = None,
) -> dict[str, str]:
    """The trainer's environment: the agent's, the job's ``env``, then the platform's variables.

    Each process gets ``threads_per_process`` intra-op threads (OMP_NUM_THREADS, which torch reads
    for ``torch.set_num_threads``) unless the job's ``env`` sets its own: its share of the worker's
    CPU slots, so that the processes placed together do not oversubscribe the cores.

    Nothing platform-owned is inherited: CUDA_VISIBLE_DEVICES is always set explicitly ("" for CPU
    jobs) and the agent's own HOUNSFIELD_* settings are dropped, so a trainer never sees another
    job's devices or a stale resume path. Built-in tasks get the worker's NATS access (``task_nats``).
    A worker that uses some of its node's devices (``gpu_devices``, a Slurm allocation's) reports them
    as 0..N-1; the assignment's indices are mapped back to the node's device indices here.
    """
    spec = assignment.spec
    env = {name: value for name, value in base_env.items() if not _is_platform_owned(name)}
    for name, value in (spec.env if isinstance(spec, TrainingJobSpec) else {}).items():
        if _is_platform_owned(name):
            _log.warning("job %s: env %s is set by the platform; ignored", assignment.jobId, name)
            continue
        env[name] = value
    job_env = spec.env if isinstance(spec, TrainingJobSpec) else {}
    if "OMP_NUM_THREADS" not in job_env:
        env["OMP_NUM_THREADS"] = str(max(1, threads_per_process))
    # Unbuffered output keeps the log (and its tail in a failure event) up to date.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices(assignment, gpu_devices)
    if gpu_devices is not None and assignment.gpuIndices:
        # NVML numbers devices by PCI bus; CUDA by default fastest first.
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env[pe.ENV_CONTEXT] = str(context_file)
    env[pe.ENV_REPORT_FILE] = str(attempt_dir.report_file)
    if is_builtin_task(spec) and task_nats is not None:
        env.update(task_nats.env())
    return env
