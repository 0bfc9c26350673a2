"""Medium tests: the agent against a real nats-server, running the example trainers."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from nats.aio.client import Client

from hounsfield.contracts.models import ProgressEvent, StatusEvent, WorkerHeartbeat
from hounsfield.contracts.subjects import (
    STREAM_ASSIGN,
    STREAM_EVENTS,
    worker_consumer,
    worker_heartbeat_subject,
)
from hounsfield.worker.log_segments import read_log
from worker.agents import StartAgent
from worker.assignments import make_assignment, publish_assignment, publish_raw
from worker.event_recorder import EventRecorder
from worker.process_state import is_dead

pytestmark = pytest.mark.timeout(180)


async def _gone(pid: int, timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.1)):
        if is_dead(pid):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_heartbeat_registers_fake_gpus(start_agent: StartAgent, nc: Client, worker_id: str) -> None:
    recorder = await EventRecorder.subscribe(nc, worker_heartbeat_subject(worker_id))
    await start_agent()

    events = await recorder.wait_for(lambda evs: len(evs) >= 2, timeout=20)

    heartbeat = events[-1]
    assert isinstance(heartbeat, WorkerHeartbeat)
    assert heartbeat.workerId == worker_id and heartbeat.simulated and heartbeat.intervalSeconds == 0.5
    assert [gpu.uuid for gpu in heartbeat.gpus] == [f"FAKE-{worker_id}-{i}" for i in range(4)]
    assert all(gpu.name == "NVIDIA H100 80GB" and gpu.memoryUsedBytes == 0 for gpu in heartbeat.gpus)
    assert heartbeat.running == []
    # Stored in HF_EVENTS under a de-duplication id that increases.
    assert all(msg_id.startswith(f"{worker_id}:hb:") for msg_id in recorder.msg_ids)
    seqs = [int(msg_id.rsplit(":", 1)[1]) for msg_id in recorder.msg_ids]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stored = await nc.jetstream().get_last_msg(STREAM_EVENTS, worker_heartbeat_subject(worker_id))
    assert stored.data is not None
    assert WorkerHeartbeat.model_validate_json(stored.data).workerId == worker_id


async def test_count_job_runs_on_its_gpus_and_reports_progress(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    app = await start_agent()
    assignment = make_assignment(
        worker_id, args=["--steps", "6", "--sleep", "0.05"], gpu_indices=[2, 3], cuda_visible_devices="2,3"
    )
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)

    done = await recorder.wait_for_state("succeeded", "failed")

    assert done.state == "succeeded", done.reason
    assert recorder.statuses() == ["starting", "running", "succeeded"]
    events = recorder.events
    running = next(e for e in events if isinstance(e, StatusEvent) and e.state == "running")
    assert running.runtime is not None and running.runtime.cudaVisibleDevices == "2,3"
    assert running.runtime.worldSize == 1
    progress = recorder.progress()
    assert len(progress) == 6
    assert [p.seq for p in progress] == list(range(6))
    assert [p.step for p in progress] == list(range(1, 7))
    losses = [p.metrics["loss"] for p in progress]
    assert all(isinstance(loss, float) for loss in losses) and losses == sorted(losses, reverse=True)
    # Progress comes strictly between running and the terminal status.
    positions = [i for i, e in enumerate(events) if isinstance(e, ProgressEvent)]
    assert events.index(running) < positions[0] and positions[-1] < events.index(done)
    assert f"{assignment.jobId}:1:succeeded" in recorder.msg_ids
    assert f"{assignment.jobId}:1:p:5" in recorder.msg_ids
    attempt_dir = app.settings.attempts_dir / assignment.jobId / "attempt-1"
    assert (attempt_dir / "output").is_dir()
    assert "[rank 0] " in (log := "\n".join(read_log(attempt_dir / "logs")))
    assert "sees CUDA_VISIBLE_DEVICES='2,3'" in log


async def test_failing_trainer_reports_exit_code_and_log_tail(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    assignment = make_assignment(worker_id, module="hounsfield.examples.exit_code", args=["--code", "3"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)

    done = await recorder.wait_for_state("succeeded", "failed")

    assert done.state == "failed"
    assert done.exitCode == 3
    assert done.reason == "trainer exited with code 3"
    assert done.failureKind == "trainer"
    assert done.logTail is not None and 0 < len(done.logTail) <= 50
    assert any("simulated failure: giving up" in line.root for line in done.logTail)
    assert len(recorder.progress()) == 1


async def test_missing_trainer_module_fails_with_a_reason(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    assignment = make_assignment(worker_id, module="hounsfield.recipes")  # a package without __main__
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)

    done = await recorder.wait_for_state("succeeded", "failed")

    assert done.state == "failed"
    assert done.failureKind == "preflight"
    assert done.reason is not None
    expected = "cannot start the trainer: module 'hounsfield.recipes' not found"
    assert done.reason.startswith(expected)


async def test_an_unreadable_assignment_fails_its_job_instead_of_hanging(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    newer = json.loads(make_assignment(worker_id).model_dump_json(exclude_none=True))
    newer["spec"]["monitoring"] = {"failOnNaN": True}  # a field this worker's contracts lack
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{newer['jobId']}.>")
    await publish_raw(nc.jetstream(), worker_id, json.dumps(newer).encode())

    done = await recorder.wait_for_state("succeeded", "failed")

    assert done.failureKind == "preflight"
    assert done.reason is not None and "cannot read this assignment" in done.reason
    assert "spec.monitoring" in done.reason


async def test_bad_messages_are_terminated_and_consumption_continues(
    start_agent: StartAgent, nc: Client, worker_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hounsfield.worker")
    await start_agent()
    js = nc.jetstream()
    valid = make_assignment(worker_id, args=["--steps", "1", "--sleep", "0"])
    # Another job's assignment in a schema version this worker cannot read (that job is failed).
    wrong_version = json.loads(make_assignment(worker_id).model_dump_json(exclude_none=True)) | {"v": 2}
    other_worker = make_assignment("someone-else")
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{valid.jobId}.>")

    await publish_raw(js, worker_id, b"{not json")
    await publish_raw(js, worker_id, json.dumps(wrong_version).encode())
    await publish_raw(js, worker_id, json.dumps({"v": 1, "jobId": "x"}).encode())
    await publish_raw(js, worker_id, other_worker.model_dump_json(exclude_none=True).encode())
    await publish_assignment(js, valid)
    await publish_assignment(js, valid)  # a duplicate delivery of the same attempt

    done = await recorder.wait_for_state("succeeded", "failed")

    assert done.state == "succeeded"
    dead_letters = [r.getMessage() for r in caplog.records if "dead letter" in r.getMessage()]
    assert len(dead_letters) == 4
    assert any("unsupported schema version 2" in m for m in dead_letters)
    assert any("addressed to worker 'someone-else'" in m for m in dead_letters)
    assert any("delivered again" in r.getMessage() for r in caplog.records)
    info = await js.consumer_info(STREAM_ASSIGN, worker_consumer(worker_id))
    assert info.num_pending == 0 and info.num_ack_pending == 0
    assert recorder.statuses().count("starting") == 1


async def test_stop_attempt_lets_a_cooperative_trainer_exit_cleanly(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    app = await start_agent()
    assignment = make_assignment(
        worker_id, args=["--steps", "1000", "--sleep", "0.1"], gpu_indices=[0], cuda_visible_devices="0"
    )
    clash = make_assignment(worker_id, gpu_indices=[0, 1], cuda_visible_devices="0,1")
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    clash_recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{clash.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    await recorder.wait_for(lambda evs: any(isinstance(e, ProgressEvent) for e in evs))

    # GPU 0 is taken: the worker refuses the overlapping attempt as retryable.
    await publish_assignment(nc.jetstream(), clash)
    refused = await clash_recorder.wait_for_state("failed")
    assert refused.failureKind == "infrastructure"
    assert refused.reason is not None and "GPU(s) [0]" in refused.reason

    assert await app.agent.stop_attempt(assignment.jobId, grace_seconds=20)

    done = await recorder.wait_for_state("cancelled")
    assert done.exitCode == 0
    assert done.reason is not None and "stopped after SIGTERM" in done.reason
    log = "\n".join(read_log(app.settings.attempts_dir / assignment.jobId / "attempt-1" / "logs"))
    assert "stop requested; exiting cleanly" in log
    assert app.agent.running() == []


async def test_cancel_request_kills_a_trainer_that_ignores_sigterm(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "1000", "--sleep", "0.1", "--ignore-sigterm"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    running = await recorder.wait_for_state("running")
    await recorder.wait_for(lambda evs: any(isinstance(e, ProgressEvent) for e in evs))
    assert running.runtime is not None
    rank_pid = running.runtime.pid

    reply = await nc.request(
        f"hf.worker.{worker_id}.cancel",
        json.dumps({"jobId": assignment.jobId, "attempt": 1, "graceSeconds": 1}).encode(),
        timeout=5,
    )
    assert json.loads(reply.data) == {"ok": True, "state": "stopping"}

    done = await recorder.wait_for_state("cancelled", timeout=30)
    assert done.reason is not None and "ignored SIGTERM for 1 s and was killed" in done.reason
    assert await _gone(rank_pid), "the rank survived SIGKILL"
    again = await nc.request(
        f"hf.worker.{worker_id}.cancel",
        json.dumps({"jobId": assignment.jobId, "attempt": 1}).encode(),
        timeout=5,
    )
    assert json.loads(again.data) == {"ok": True, "state": "finished"}


async def test_cancel_before_the_assignment_arrives(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    assignment = make_assignment(worker_id)
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")

    reply = await nc.request(
        f"hf.worker.{worker_id}.cancel",
        json.dumps({"jobId": assignment.jobId, "attempt": 1}).encode(),
        timeout=5,
    )
    assert json.loads(reply.data) == {"ok": True, "state": "not_started"}
    invalid = await nc.request(f"hf.worker.{worker_id}.cancel", b'{"jobId": "x"}', timeout=5)
    assert json.loads(invalid.data)["ok"] is False

    await publish_assignment(nc.jetstream(), assignment)
    done = await recorder.wait_for_state("cancelled", "starting")
    assert done.state == "cancelled" and recorder.statuses() == ["cancelled"]


async def test_shutdown_preempts_running_attempts(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    app = await start_agent()
    assignment = make_assignment(worker_id, args=["--steps", "1000", "--sleep", "0.1"])
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)
    await recorder.wait_for(lambda evs: any(isinstance(e, ProgressEvent) for e in evs))

    await app.close(grace_seconds=10)

    done = await recorder.wait_for_state("preempted", timeout=5)
    assert done.state == "preempted" and done.exitCode == 0
    assert done.reason is not None and f"worker {worker_id} shut down" in done.reason
