"""The trainer's command line, environment and context file."""

from __future__ import annotations

from pathlib import Path

from hounsfield.contracts.models import Assignment
from hounsfield.platform.nats import NatsAccess
from hounsfield.sdk import PlatformEnv
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.trainer_launch import (
    launch_command,
    threads_per_process,
    trainer_context,
    trainer_env,
    write_context,
)
from worker.assignments import make_assignment

AGENT_ENV = {
    "PATH": "/usr/bin",
    "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
    "HOUNSFIELD_NATS_URL": "nats://x:1",
    "HOUNSFIELD_RESUME_FROM": "stale",
}


def test_command_runs_torchrun_through_the_launcher() -> None:
    assignment = make_assignment("w", module="my_lab.train", args=["--epochs", "3"], nproc=2)
    assert launch_command(assignment, python="/py") == [
        "/py",
        "-m",
        "hounsfield.worker.launcher",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "my_lab.train",
        "--epochs",
        "3",
    ]
    assert (
        launch_command(make_assignment("w", kind="pcdiff"), python="/py")[-1] == "hounsfield.recipes.pcdiff"
    )
    assert (
        launch_command(make_assignment("w", kind="topo_unet"), python="/py")[-1]
        == "hounsfield.recipes.topo_unet"
    )


def _env(  # type: ignore[no-untyped-def]
    assignment, attempt_dir: AttemptDir, nats: NatsAccess | None = None, base: dict[str, str] = AGENT_ENV
) -> dict[str, str]:
    attempt_dir.root.mkdir(parents=True, exist_ok=True)
    context = write_context(trainer_context(assignment, attempt_dir), attempt_dir)
    return trainer_env(assignment, attempt_dir, base, context, nats)


def test_cpu_job_never_inherits_cuda_visible_devices(tmp_path: Path) -> None:
    env = _env(make_assignment("w", cuda_visible_devices=""), AttemptDir(tmp_path))
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert "HOUNSFIELD_RESUME_FROM" not in env and "HOUNSFIELD_NATS_URL" not in env


def test_platform_variables_and_job_env(tmp_path: Path) -> None:
    assignment = make_assignment(
        "node-a",
        job_id="job-7",
        gpu_indices=[2, 3],
        cuda_visible_devices="2,3",
        env={"WANDB_MODE": "offline", "CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "4"},
    )
    attempt_dir = AttemptDir(tmp_path / "attempt-1")

    env = _env(assignment, attempt_dir)

    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"  # the job's env cannot override it
    assert env["WANDB_MODE"] == "offline" and env["OMP_NUM_THREADS"] == "4" and env["PATH"] == "/usr/bin"
    assert env["HOUNSFIELD_REPORT_FILE"] == str(attempt_dir.report_file)
    platform = PlatformEnv.read(env)
    context = platform.context
    assert context is not None and (context.jobId, context.attempt, context.workerId) == (
        "job-7",
        1,
        "node-a",
    )
    assert platform.output_dir == attempt_dir.output_dir and platform.report_file == attempt_dir.report_file
    assert context.resolved.perDeviceBatch == 32 and platform.config == {"preset": "tiny"}
    assert platform.hyperparameters["globalBatch"] == 32


def test_omp_threads_default_to_one(tmp_path: Path) -> None:
    assert _env(make_assignment("w"), AttemptDir(tmp_path))["OMP_NUM_THREADS"] == "1"


def test_each_process_gets_its_share_of_the_cpu_slots(tmp_path: Path) -> None:
    cpu_job = make_assignment("w", nproc=2)
    gpu_job = make_assignment("w", gpu_indices=[0, 1], cuda_visible_devices="0,1", nproc=2)
    # A CPU job's process holds one slot; a GPU job's process the slots per GPU (16 cores, 4 GPUs).
    assert threads_per_process(cpu_job, cpu_slots=16, gpu_count=4) == 1
    assert threads_per_process(gpu_job, cpu_slots=16, gpu_count=4) == 4
    assert threads_per_process(gpu_job, cpu_slots=2, gpu_count=8) == 1
    attempt_dir = AttemptDir(tmp_path)
    attempt_dir.root.mkdir(parents=True, exist_ok=True)
    context = write_context(trainer_context(gpu_job, attempt_dir), attempt_dir)
    base = {**AGENT_ENV, "OMP_NUM_THREADS": "64"}  # the agent's own shell setting is not the share
    assert trainer_env(gpu_job, attempt_dir, base, context, threads_per_process=4)["OMP_NUM_THREADS"] == "4"


def _internal(spec: dict[str, object]) -> Assignment:
    base = make_assignment("node-a", job_id="job-9").model_dump(mode="json", exclude_none=True)
    base.pop("resolved")
    return Assignment.model_validate({**base, "spec": spec})


def test_internal_tasks_run_built_in_modules_from_their_payloads(tmp_path: Path) -> None:
    shard = _internal(
        {"name": "s", "kind": "evaluation_shard", "evaluationShard": {"evaluationId": "ev-1", "shard": 2}}
    )
    importer = _internal(
        {
            "name": "i",
            "kind": "checkpoint_import",
            "checkpointImport": {
                "importId": "imp-1",
                "fileName": "last.ckpt",
                "format": "lightning",
                "step": 7,
            },
        }
    )
    assert launch_command(shard, python="/py")[-3:] == ["hounsfield.evaluation.shard", "--evaluation", "ev-1"]
    assert launch_command(importer, python="/py")[-9:] == [
        "hounsfield.checkpoints.import_job",
        "--import",
        "imp-1",
        "--name",
        "last.ckpt",
        "--format",
        "lightning",
        "--step",
        "7",
    ]
    # No hyperparameters or trainer config: nothing of a training is made up for them.
    platform = PlatformEnv.read(_env(shard, AttemptDir(tmp_path)))
    assert platform.context is not None and platform.context.resolved is None
    assert platform.hyperparameters == {} and platform.config == {}


def test_only_built_in_tasks_get_the_workers_nats_access(tmp_path: Path) -> None:
    access = NatsAccess("nats://head:14222", "worker-node-a", "s3cret")
    shard = _internal(
        {"name": "s", "kind": "evaluation_shard", "evaluationShard": {"evaluationId": "e", "shard": 0}}
    )
    task_env = _env(shard, AttemptDir(tmp_path / "shard"), access)
    assert (
        task_env["HOUNSFIELD_NATS_USER"] == "worker-node-a"
        and task_env["HOUNSFIELD_NATS_PASSWORD"] == "s3cret"
    )
    assert task_env["HOUNSFIELD_NATS_URL"] == "nats://head:14222"
    trainer = _env(
        make_assignment("node-a"), AttemptDir(tmp_path / "train"), access, {**AGENT_ENV, **access.env()}
    )
    assert not any(name.startswith("HOUNSFIELD_NATS") for name in trainer)
