"""An agent that dies or restarts leaves its trainers running; the next one re-adopts the current ones.

The scheduler's answer to "is this attempt still current?" is played by a responder on the
worker's RPC subject. Agents are restarted either by SIGKILL (an agent run as its own process) or by
closing without draining (``HOUNSFIELD_DRAIN_ON_STOP=false``, an upgrade).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from hounsfield.contracts.models import ProgressEvent
from hounsfield.contracts.subjects import WORKER_RPC_ATTEMPT_CURRENT, worker_rpc_subject
from hounsfield.worker import process_tree
from hounsfield.worker.orphan_reaper import ENDED_MARK, LAUNCH_RECORD, LaunchRecord
from hounsfield.worker.supervisor import EXIT_FILE, ExitRecord
from worker.agents import StartAgent
from worker.assignments import make_assignment, publish_assignment
from worker.event_recorder import EventRecorder
from worker.process_state import is_dead
from worker.topology import ensure_worker_consumer

pytestmark = pytest.mark.timeout(180)

Answer = Callable[[str, int], bool]


@pytest.fixture
async def scheduler_says(nc: Client, worker_id: str) -> AsyncIterator[dict[str, bool]]:
    """``scheduler_says["current"] = False`` makes the fake scheduler disown every attempt."""
    answer = {"current": True}
    asked: list[tuple[str, int]] = []

    async def reply(message: Msg) -> None:
        request = json.loads(message.data)
        asked.append((request["jobId"], request["attempt"]))
        data = {"current": answer["current"], "reason": "" if answer["current"] else "job requeued"}
        await message.respond(json.dumps({"ok": True, "data": data}).encode())

    subscription = await nc.subscribe(worker_rpc_subject(worker_id, WORKER_RPC_ATTEMPT_CURRENT), cb=reply)
    await nc.flush()
    yield answer
    await subscription.unsubscribe()


def _attempt_dir(tmp_path: Path, job_id: str) -> Path:
    return tmp_path / "work" / "jobs" / job_id / "attempt-1"


async def _until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def _unique_steps(recorder: EventRecorder) -> list[int]:
    """Progress steps as the event stream stores them (one message per id)."""
    seen: dict[str, ProgressEvent] = {}
    for event, msg_id in zip(recorder.events, recorder.msg_ids, strict=True):
        if isinstance(event, ProgressEvent):
            seen.setdefault(msg_id, event)
    return [event.step for event in seen.values()]


def _agent_process(nats_server: str, worker_id: str, work_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOUNSFIELD_NATS_URL": nats_server,
        "HOUNSFIELD_WORKER_ID": worker_id,
        "HOUNSFIELD_WORK_DIR": str(work_dir),
        "HOUNSFIELD_HEARTBEAT_INTERVAL": "0.5",
        "HOUNSFIELD_FAKE_GPUS": "4xH100-80GB",
        "HOUNSFIELD_LOG_FINISH_SECONDS": "0",
    }
    return subprocess.Popen([sys.executable, "-m", "hounsfield.worker"], env=env)


async def test_a_sigkilled_agent_is_replaced_and_the_trainer_is_re_adopted(
    start_agent: StartAgent,
    nc: Client,
    nats_server: str,
    worker_id: str,
    tmp_path: Path,
    scheduler_says: dict[str, bool],
) -> None:
    await ensure_worker_consumer(nc.jetstream(), worker_id)
    agent = _agent_process(nats_server, worker_id, tmp_path / "work")
    try:
        assignment = make_assignment(worker_id, args=["--steps", "24", "--sleep", "0.25"])
        recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
        await publish_assignment(nc.jetstream(), assignment)
        await recorder.wait_for(lambda events: sum(isinstance(e, ProgressEvent) for e in events) >= 3)
        launch = LaunchRecord.read(_attempt_dir(tmp_path, assignment.jobId) / LAUNCH_RECORD)
        trainer_pids = process_tree.descendants([launch.pid])

        agent.send_signal(signal.SIGKILL)
        agent.wait()
        assert launch.alive(), "the trainer died with its agent"
        await start_agent()

        done = await recorder.wait_for_state("succeeded", "failed")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert done.state == "succeeded" and done.attempt == 1, done.reason
    assert LaunchRecord.read(_attempt_dir(tmp_path, assignment.jobId) / LAUNCH_RECORD) == launch
    assert trainer_pids, "no trainer processes were seen"
    # Every step once, in order: none lost while no agent ran, none repeated by the new one.
    assert _unique_steps(recorder) == list(range(1, 25))
    assert recorder.statuses().count("succeeded") == 1 and "failed" not in recorder.statuses()


async def test_an_upgrade_leaves_the_trainer_running_and_the_next_agent_continues(
    start_agent: StartAgent, nc: Client, worker_id: str, tmp_path: Path, scheduler_says: dict[str, bool]
) -> None:
    first = await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "16", "--sleep", "0.2"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    await recorder.wait_for(lambda events: sum(isinstance(e, ProgressEvent) for e in events) >= 2)

    await first.close(drain=False)
    launch = LaunchRecord.read(_attempt_dir(tmp_path, assignment.jobId) / LAUNCH_RECORD)
    assert launch.alive(), "closing without draining stopped the trainer"
    assert "preempted" not in recorder.statuses()
    second = await start_agent()
    assert [r.jobId for r in second.agent.running()] == [assignment.jobId]

    done = await recorder.wait_for_state("succeeded", "failed")
    assert done.state == "succeeded", done.reason
    assert _unique_steps(recorder) == list(range(1, 17))


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
async def test_a_trainer_that_ended_while_no_agent_ran_gets_its_real_outcome(
    outcome: str,
    start_agent: StartAgent,
    nc: Client,
    worker_id: str,
    tmp_path: Path,
    scheduler_says: dict[str, bool],
) -> None:
    first = await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "8", "--sleep", "0.3"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    await recorder.wait_for(lambda events: sum(isinstance(e, ProgressEvent) for e in events) >= 1)
    attempt_dir = _attempt_dir(tmp_path, assignment.jobId)
    launch = LaunchRecord.read(attempt_dir / LAUNCH_RECORD)

    await first.close(drain=False)
    if outcome == "failed":
        # A rank dies while nobody watches (the out-of-memory killer, say).
        ranks = [p for p in process_tree.descendants([launch.pid]) if p != launch.pid]
        rank = max(ranks)  # the rank is the newest process of the tree
        os.kill(rank, signal.SIGKILL)
    await _until(lambda: (attempt_dir / EXIT_FILE).exists())
    record = ExitRecord.read(attempt_dir / EXIT_FILE)
    assert record is not None
    await start_agent()

    done = await recorder.wait_for_state("succeeded", "failed")
    assert done.state == outcome, done.reason
    if outcome == "succeeded":
        assert done.exitCode == 0 and _unique_steps(recorder) == list(range(1, 9))
    else:
        assert done.exitCode == record.returncode != 0
        assert done.reason is not None and "SIGKILL" in done.reason
    await _until(lambda: (attempt_dir / ENDED_MARK).exists(), timeout=10)


async def test_an_attempt_that_is_no_longer_current_is_stopped_not_adopted(
    start_agent: StartAgent, nc: Client, worker_id: str, tmp_path: Path, scheduler_says: dict[str, bool]
) -> None:
    first = await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "200", "--sleep", "0.2"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    await recorder.wait_for(lambda events: sum(isinstance(e, ProgressEvent) for e in events) >= 1)
    await first.close(drain=False)
    launch = LaunchRecord.read(_attempt_dir(tmp_path, assignment.jobId) / LAUNCH_RECORD)
    pids = process_tree.descendants([launch.pid])

    scheduler_says["current"] = False
    second = await start_agent(stop_grace_seconds=2.0)

    # Stopped before the agent takes work: start() returned only afterwards.
    assert all(is_dead(pid) for pid in pids), "a trainer of a superseded attempt still runs"
    assert second.agent.running() == []
    failed = await recorder.wait_for_state("failed")
    assert failed.failureKind == "infrastructure"
    assert failed.reason is not None and "no longer the job's current attempt (job requeued)" in failed.reason
