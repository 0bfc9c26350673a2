"""End to end on the CPU: the agent runs tiny_train as a 2-process DDP job (gloo)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from hounsfield.contracts.models import StatusEvent
from worker.agents import StartAgent
from worker.assignments import make_assignment, publish_assignment
from worker.event_recorder import EventRecorder


@pytest.mark.timeout(240)
async def test_tiny_train_learns_with_two_processes(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    await start_agent()
    assignment = make_assignment(
        worker_id,
        module="hounsfield.examples.tiny_train",
        args=["--steps", "60", "--log-every", "10"],
        nproc=2,
        global_batch=32,
        gpu_indices=[1, 3],
        cuda_visible_devices="1,3",
    )
    recorder = await EventRecorder.subscribe(nc, f"hf.events.job.{assignment.jobId}.>")
    await publish_assignment(nc.jetstream(), assignment)

    done = await recorder.wait_for_state("succeeded", "failed", timeout=180)

    assert done.state == "succeeded", (done.reason, done.logTail)
    running = next(e for e in recorder.events if isinstance(e, StatusEvent) and e.state == "running")
    assert running.runtime is not None and running.runtime.worldSize == 2
    assert running.runtime.cudaVisibleDevices == "1,3"
    progress = recorder.progress()
    assert [p.step for p in progress] == [10, 20, 30, 40, 50, 60]
    first, last = progress[0], progress[-1]
    assert isinstance(first.metrics["loss"], float) and isinstance(last.metrics["loss"], float)
    assert last.metrics["loss"] < 0.1 * first.metrics["loss"]
    assert last.lr == pytest.approx(0.05) and last.samplesPerSecond and last.dataWaitSeconds is not None
