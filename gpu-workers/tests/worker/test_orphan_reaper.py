"""Trainers left running by an agent that died are stopped and reported by the next agent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from nats.aio.client import Client

from hounsfield.worker.orphan_reaper import ENDED_MARK, LAUNCH_RECORD, LaunchRecord, stop_tree
from worker.agents import StartAgent, agent_settings
from worker.assignments import make_assignment, publish_assignment
from worker.event_recorder import EventRecorder
from worker.process_state import is_dead

pytestmark = pytest.mark.timeout(120)


def _orphan(ignore_sigterm: bool = False) -> subprocess.Popen[bytes]:
    """A trainer-like process in its own session, as the agent launches trainers."""
    code = "import signal, time\n"
    if ignore_sigterm:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "time.sleep(600)\n"
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


async def _gone(process: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.1)):
        if process.poll() is not None or is_dead(process.pid):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_recycled_pid_is_never_signalled() -> None:
    bystander = _orphan()
    try:
        await asyncio.sleep(0.2)
        real = LaunchRecord.of("job", 1, "w", bystander.pid)
        assert real is not None and real.alive()
        stale = LaunchRecord("job", 1, "w", bystander.pid, real.start_ticks + 1)  # same pid, another process
        assert not stale.alive()
        assert await stop_tree(stale, grace_seconds=0.5)
        await asyncio.sleep(0.3)
        assert bystander.poll() is None, "a process that only shares the recorded pid was signalled"
    finally:
        bystander.kill()
        bystander.wait()


async def test_a_restarted_agent_stops_the_orphan_and_reports_it_once(
    start_agent: StartAgent, nc: Client, worker_id: str, nats_server: str, tmp_path: Path
) -> None:
    job_id = f"orphan-{uuid.uuid4().hex[:8]}"
    attempts_dir = agent_settings(nats_server, worker_id, tmp_path / "work").attempts_dir
    attempt_dir = attempts_dir / job_id / "attempt-2"
    attempt_dir.mkdir(parents=True)
    orphan = _orphan(ignore_sigterm=True)  # survives SIGTERM: the grace period, then SIGKILL
    try:
        await asyncio.sleep(0.2)
        record = LaunchRecord.of(job_id, 2, worker_id, orphan.pid)
        assert record is not None
        record.write(attempt_dir)  # what the dead agent's runner wrote at launch
        recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{job_id}.>")

        await start_agent(stop_grace_seconds=1.0)

        assert await _gone(orphan), "the orphaned trainer still runs"
        failed = await recorder.wait_for_state("failed", timeout=20)
        assert failed.attempt == 2 and failed.failureKind == "infrastructure"
        assert failed.reason is not None and "worker agent restarted" in failed.reason
        assert "trainer was stopped" in failed.reason
        assert (attempt_dir / ENDED_MARK).exists()

        # A further restart finds nothing left to reap.
        await start_agent()
        await asyncio.sleep(1.0)
        assert recorder.statuses() == ["failed"]
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait()


async def test_the_runner_records_each_launch_and_marks_its_end(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    app = await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "2", "--sleep", "0.05"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    running = await recorder.wait_for_state("running")
    attempt_dir = app.settings.attempts_dir / assignment.jobId / "attempt-1"
    record = LaunchRecord.read(attempt_dir / LAUNCH_RECORD)
    assert (record.job_id, record.attempt, record.worker_id) == (assignment.jobId, 1, worker_id)
    assert running.runtime is not None
    done = await recorder.wait_for_state("succeeded", "failed")
    assert done.state == "succeeded", done.reason
    for _ in range(50):
        if (attempt_dir / ENDED_MARK).exists():
            break
        await asyncio.sleep(0.1)
    assert (attempt_dir / ENDED_MARK).exists()
