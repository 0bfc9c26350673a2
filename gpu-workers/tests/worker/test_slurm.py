"""Slurm mode: the allocation's GPUs from SLURM_* variables, reported as 0..N-1 and mapped back for
the trainers; the drain before the allocation's end and the exit when idle."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client

from hounsfield.contracts.models import WorkerHeartbeat
from hounsfield.contracts.subjects import worker_heartbeat_subject
from hounsfield.gpu.fake import FakeInventory, parse_fake_gpus
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.slurm import (
    AllocatedInventory,
    LifetimeWatch,
    SlurmError,
    read_allocation,
    resolve_devices,
)
from hounsfield.worker.trainer_launch import trainer_context, trainer_env, write_context
from worker.agents import StartAgent
from worker.assignments import make_assignment
from worker.event_recorder import EventRecorder


def test_the_allocations_gpus_come_from_the_step_then_the_job_then_cuda_visible_devices() -> None:
    both = {"SLURM_STEP_GPUS": "2,3", "SLURM_JOB_GPUS": "0-3", "CUDA_VISIBLE_DEVICES": "0,1"}
    assert read_allocation(both).gpus == (2, 3)
    assert read_allocation({"SLURM_JOB_GPUS": "1,4-6"}).gpus == (1, 4, 5, 6)
    assert read_allocation({"CUDA_VISIBLE_DEVICES": "5"}).gpus == (5,)
    assert read_allocation({"SLURM_GPUS_ON_NODE": "3"}).gpus == (0, 1, 2)
    assert read_allocation({"SLURM_JOB_ID": "77"}) == read_allocation(
        {"SLURM_JOB_ID": "77", "SLURM_JOB_GPUS": ""}
    )
    assert read_allocation({}).gpus == ()
    # HOUNSFIELD_SLURM_GPUS wins over Slurm's variables.
    assert read_allocation({"SLURM_JOB_GPUS": "0,1"}, gpus_override="3").gpus == (3,)


def test_unreadable_gpu_lists_and_end_times_name_the_variable() -> None:
    with pytest.raises(SlurmError, match="CUDA_VISIBLE_DEVICES='GPU-1a2b'.*HOUNSFIELD_SLURM_GPUS"):
        read_allocation({"CUDA_VISIBLE_DEVICES": "GPU-1a2b"})
    with pytest.raises(SlurmError, match="SLURM_JOB_GPUS.*twice"):
        read_allocation({"SLURM_JOB_GPUS": "1,1"})
    with pytest.raises(SlurmError, match="SLURM_JOB_END_TIME='tomorrow'"):
        read_allocation({"SLURM_JOB_END_TIME": "tomorrow"})


def test_the_end_time_setting_wins_over_slurms() -> None:
    assert read_allocation({"SLURM_JOB_END_TIME": "1700000000"}).end_time == 1_700_000_000.0
    assert read_allocation({"SLURM_JOB_END_TIME": "1700000000"}, end_time=5.0).end_time == 5.0
    assert read_allocation({}).end_time is None


def test_devices_resolve_to_node_indices_or_to_a_cgroup_constrained_view() -> None:
    assert resolve_devices((1, 3), visible=4) == (1, 3)
    # Slurm's cgroups show the allocation's 2 GPUs only, numbered 0 and 1, while SLURM_JOB_GPUS says 6,7.
    assert resolve_devices((6, 7), visible=2) == (0, 1)
    with pytest.raises(SlurmError, match=r"GPUs \[6, 7\].*shows 4"):
        resolve_devices((6, 7), visible=4)


def test_the_inventory_reports_the_allocations_gpus_as_0_to_n() -> None:
    fake = FakeInventory(parse_fake_gpus("4xH100-80GB"), "node-a")
    inventory = AllocatedInventory(fake, (1, 3))
    gpus = inventory.snapshot(set())
    assert inventory.count() == 2
    assert [(g.index, g.uuid) for g in gpus] == [(0, "FAKE-node-a-1"), (1, "FAKE-node-a-3")]


def test_a_trainer_gets_the_node_devices_behind_the_reported_indices(tmp_path: Path) -> None:
    assignment = make_assignment("w", gpu_indices=[0, 1], cuda_visible_devices="0,1", nproc=2)
    attempt_dir = AttemptDir(tmp_path)
    attempt_dir.root.mkdir(parents=True, exist_ok=True)
    context = write_context(trainer_context(assignment, attempt_dir), attempt_dir)
    env = trainer_env(assignment, attempt_dir, {"CUDA_VISIBLE_DEVICES": "1,3"}, context, gpu_devices=(1, 3))
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    cpu_job = make_assignment("w", nproc=1)
    assert trainer_env(cpu_job, attempt_dir, {}, context, gpu_devices=(1, 3))["CUDA_VISIBLE_DEVICES"] == ""


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _advance(clock: _Clock, watch: asyncio.Task[str], seconds: float) -> None:
    for _ in range(int(seconds * 10)):
        clock.now += 0.1
        await asyncio.sleep(0)
        if watch.done():
            return


async def test_the_watch_drains_the_drain_period_before_the_end() -> None:
    clock = _Clock()
    watch = LifetimeWatch(
        end_time=1100.0,
        drain_seconds=30.0,
        idle_exit_seconds=None,
        busy=lambda: True,
        clock=clock,
        poll_seconds=0,
    )
    task = asyncio.create_task(watch.wait())
    await _advance(clock, task, 69.0)
    assert not task.done()
    await _advance(clock, task, 2.0)
    assert task.done() and task.result().startswith("the Slurm allocation ends in 30 s")


async def test_the_watch_ends_an_agent_idle_for_the_idle_time_counted_from_its_last_work() -> None:
    clock = _Clock()
    busy = [True]
    watch = LifetimeWatch(
        end_time=None,
        drain_seconds=0,
        idle_exit_seconds=10.0,
        busy=lambda: busy[0],
        clock=clock,
        poll_seconds=0,
    )
    task = asyncio.create_task(watch.wait())
    await _advance(clock, task, 50.0)
    assert not task.done()
    busy[0] = False
    await _advance(clock, task, 9.0)
    assert not task.done()
    await _advance(clock, task, 2.0)
    assert task.done() and task.result() == "nothing to run for 10 s"


async def test_a_draining_agent_offers_no_job_kinds_any_more(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    """So that the scheduler places nothing on it, not even the jobs its own drain requeues."""
    recorder = await EventRecorder.subscribe(nc, worker_heartbeat_subject(worker_id))
    app = await start_agent()
    first = (await recorder.wait_for(lambda events: len(events) >= 1, timeout=20))[0]
    assert isinstance(first, WorkerHeartbeat) and first.kinds
    await app.close(grace_seconds=2.0, drain=True)
    last = (await recorder.wait_for(lambda events: len(events) >= 2, timeout=20))[-1]
    assert isinstance(last, WorkerHeartbeat) and last.kinds == []
    await recorder.close()


def test_the_slurm_mode_refuses_to_start_on_unreadable_allocation_variables(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOUNSFIELD_WORK_DIR": str(tmp_path),
        "SLURM_JOB_ID": "7",
        "CUDA_VISIBLE_DEVICES": "GPU-5f2e",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hounsfield.worker", "--slurm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "CUDA_VISIBLE_DEVICES='GPU-5f2e'" in done.stderr and "HOUNSFIELD_SLURM_GPUS" in done.stderr
