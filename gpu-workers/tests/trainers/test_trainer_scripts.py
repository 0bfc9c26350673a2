"""Both trainers as processes: progress in the SDK report file, checkpoints, SIGTERM, resume.

The trainers run as the worker agent runs them (a trainer context with the job's config and the
resolved batch), on two synthetic subjects they generate themselves.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness.trainer_context import managed_environ

from hounsfield.checkpoints.layout import step_dir_name
from hounsfield.checkpoints.reader import read_checkpoint

# (module, resolved batch: global, per device, accumulation, lr)
TRAINERS = {
    "pcdiff": ("hounsfield.recipes.pcdiff", 4, 2, 2, 1e-3),
    "voxelization": ("hounsfield.recipes.voxelization", 2, 1, 2, 3e-3),
}


def _env(tmp: Path, kind: str, config: dict[str, Any], **context: Any) -> dict[str, str]:
    _, global_batch, per_device, accum, lr = TRAINERS[kind]
    resolved = {
        "worldSize": 1,
        "globalBatch": global_batch,
        "perDeviceBatch": per_device,
        "gradAccumSteps": accum,
        "referenceBatch": global_batch,
        "baseLr": lr,
        "lrScaling": "linear",
        "lr": lr,
    }
    return {
        "OMP_NUM_THREADS": "1",
        **managed_environ(
            tmp,
            inherit=True,
            job_id=f"job-{kind}",
            kind=kind,
            resolved=context.pop("resolved", resolved),
            config={"preset": "cpu-tiny", "synthetic": {"subjects": 2}, **config},
            **context,
        ),
    }


def _start(kind: str, env: dict[str, str], launcher: list[str] | None = None) -> subprocess.Popen[bytes]:
    command = [*(launcher or [sys.executable]), "-m", TRAINERS[kind][0]]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _records(report: Path) -> list[dict[str, Any]]:
    if not report.exists():
        return []
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def _progress(report: Path) -> list[dict[str, Any]]:
    return [r for r in _records(report) if r["kind"] == "progress"]


def _finish(process: subprocess.Popen[bytes], timeout: float = 300) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out.decode(errors="replace")


def _checkpoint(output: Path, step: int, kind: str) -> dict[str, Any]:
    """The state of the SDK checkpoint of ``step`` (read back with the checkpoint reader)."""
    directory = output / "checkpoints" / step_dir_name(step)
    state, meta = read_checkpoint(directory)
    expected = {"model", "optimizer", "sampler", "rng", "lr_schedule"} | (
        {"ema"} if kind == "pcdiff" else set()
    )
    assert set(state) == expected
    assert (directory / "model.safetensors").is_file()
    assert meta.step == step and meta.jobId == f"job-{kind}"
    assert meta.globalSampleIndex == state["sampler"]["global_index"]
    return state


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_trainer_reports_progress_and_leaves_a_checkpoint(kind: str, tmp_path: Path) -> None:
    env = _env(tmp_path, kind, {"steps": 4, "logEvery": 2})
    code, log = _finish(_start(kind, env))
    assert code == 0, log
    records = _records(tmp_path / "report.jsonl")
    assert records[0]["kind"] == "runtime" and records[0]["worldSize"] == 1
    progress = _progress(tmp_path / "report.jsonl")
    assert [p["step"] for p in progress] == [2, 4]
    _, global_batch, _, _, lr = TRAINERS[kind]
    for record in progress:
        assert record["v"] == 1 and record["totalSteps"] == 4 and record["lr"] == pytest.approx(lr)
        assert math.isfinite(record["metrics"]["loss"]) and record["metrics"]["loss"] > 0
        assert record["samplesPerSecond"] > 0 and record["stepSeconds"] > 0
        assert record["dataWaitSeconds"] >= 0 and record["epoch"] > 0
    output = tmp_path / "output"
    state = _checkpoint(output, 4, kind)
    assert state["sampler"] == {"global_index": 4 * global_batch}
    assert (output / "config.json").is_file() and (output / "dataset" / "split.csv").is_file()


def _stop_after_first_report(kind: str, tmp_path: Path) -> int:
    """Starts a long run, sends SIGTERM once it reports, returns the step it stopped at."""
    process = _start(kind, _env(tmp_path, kind, {"steps": 10_000, "logEvery": 1}))
    deadline = time.monotonic() + 120
    while not _progress(tmp_path / "report.jsonl"):
        assert process.poll() is None, _finish(process)[1]
        assert time.monotonic() < deadline, "no progress within 120 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    code, log = _finish(process, timeout=180)
    assert code == 0, log
    assert "stop requested" in log
    stopped = _progress(tmp_path / "report.jsonl")[-1]["step"]
    assert 1 <= stopped < 10_000
    _checkpoint(tmp_path / "output", stopped, kind)
    return int(stopped)


def test_voxelization_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    _stop_after_first_report("voxelization", tmp_path)


def test_pcdiff_stops_on_sigterm_and_resumes_on_two_processes(tmp_path: Path) -> None:
    stopped = _stop_after_first_report("pcdiff", tmp_path / "first")
    checkpoint = tmp_path / "first" / "output" / "checkpoints" / step_dir_name(stopped)

    # A second attempt on two processes (torchrun, gloo), resuming from that checkpoint.
    second = tmp_path / "second"
    resolved = {
        "worldSize": 2,
        "globalBatch": 4,
        "perDeviceBatch": 2,
        "gradAccumSteps": 1,
        "referenceBatch": 4,
        "baseLr": 1e-3,
        "lrScaling": "linear",
        "lr": 1e-3,
    }
    env = _env(
        second,
        "pcdiff",
        {"logEvery": 1},
        resolved=resolved,
        hyperparameters={"globalBatch": 4, "baseLr": 1e-3, "maxSteps": stopped + 2},
        resume_from=str(checkpoint),
    )
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    code, log = _finish(_start("pcdiff", env, torchrun))
    assert code == 0, log
    assert f"resumed from {checkpoint}" in log
    assert [p["step"] for p in _progress(second / "report.jsonl")] == [stopped + 1, stopped + 2]
    state = _checkpoint(second / "output", stopped + 2, "pcdiff")
    assert state["sampler"] == {"global_index": (stopped + 2) * 4}


def test_time_limit_ends_training_with_a_checkpoint(tmp_path: Path) -> None:
    config = {"steps": 10_000, "logEvery": 1000, "timeLimitMinutes": 0.02, "timeLimitClock": "cpu"}
    env = _env(tmp_path, "voxelization", config)
    code, log = _finish(_start("voxelization", env))
    assert code == 0, log
    assert "time limit reached" in log
    [last] = _progress(tmp_path / "report.jsonl")  # the partial window is reported on the way out
    assert 1 <= last["step"] < 10_000
    _checkpoint(tmp_path / "output", last["step"], "voxelization")
