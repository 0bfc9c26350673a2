"""The SDK as a trainer sees it: standalone, under the agent, and on SIGTERM."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.trainer_context import managed_environ

from hounsfield.sdk import PlatformEnvError, Run
from hounsfield.worker.report_records import AttemptIdentity, decode_line, progress_event, runtime_info

RESOLVED = {
    "worldSize": 2,
    "globalBatch": 64,
    "perDeviceBatch": 16,
    "gradAccumSteps": 2,
    "referenceBatch": 32,
    "baseLr": 0.1,
    "lrScaling": "linear",
    "lr": 0.2,
}


def _strict_json(line: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant} in {line}")

    return json.loads(line, parse_constant=refuse)


@pytest.fixture
def managed_env(tmp_path: Path) -> dict[str, str]:
    context = managed_environ(
        tmp_path,
        job_id="job-1",
        attempt=2,
        worker_id="node-a",
        output_dir=tmp_path / "deep" / "output",
        report_file=tmp_path / "report.jsonl",
        resolved=RESOLVED,
        config={"preset": "tiny", "width": 8},
        hyperparameters={"globalBatch": 64, "baseLr": 0.1},
        resume_from="job-1:latest",
    )
    return {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "CUDA_VISIBLE_DEVICES": "2,3", **context}


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_standalone_run_needs_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO, logger="hounsfield.sdk")

    run = Run.from_env(environ={}, handle_sigterm=False, global_batch=48, base_lr=0.01)
    run.report(3, {"loss": 0.25}, total_steps=10, lr=0.01)

    assert (run.rank, run.world_size, run.local_rank, run.is_main, run.managed) == (0, 1, 0, True, False)
    assert run.job_id is None and run.config == {} and run.hyperparameters == {}
    assert run.output_dir.is_dir() and run.output_dir.parent == Path("hounsfield-runs")
    assert run.resolved is not None
    assert (run.resolved.perDeviceBatch, run.resolved.gradAccumSteps, run.resolved.lr) == (48, 1, 0.01)
    assert any("step 3/10 loss=0.25" in record.getMessage() for record in caplog.records)
    assert not run.should_stop


def test_standalone_runs_get_separate_output_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = Run.from_env(environ={}, handle_sigterm=False)
    second = Run.from_env(environ={}, handle_sigterm=False)
    assert first.output_dir != second.output_dir
    assert first.resolved is None


def test_managed_run_reads_the_platform_environment(managed_env: dict[str, str]) -> None:
    run = Run.from_env(environ=managed_env, handle_sigterm=False, global_batch=8, base_lr=1.0)

    assert run.managed and run.is_main and run.world_size == 2
    assert (run.job_id, run.attempt, run.resume_from) == ("job-1", 2, "job-1:latest")
    assert (
        run.output_dir.name == "output" and run.output_dir.parent.name == "deep" and run.output_dir.is_dir()
    )
    assert run.config == {"preset": "tiny", "width": 8}
    assert run.hyperparameters["globalBatch"] == 64
    # The platform's resolution wins over the standalone arguments.
    assert run.resolved is not None
    assert (run.resolved.perDeviceBatch, run.resolved.gradAccumSteps, run.resolved.lr) == (16, 2, 0.2)
    assert run.context is not None and run.context.spec.hyperparameters.globalBatch == 64


def test_an_invalid_context_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    path.write_text(json.dumps({"v": 1, "jobId": "job-1", "attempt": 0}))
    with pytest.raises(PlatformEnvError, match="attempt"):
        Run.from_env(environ={"HOUNSFIELD_CONTEXT": str(path)}, handle_sigterm=False)


def test_report_file_holds_runtime_then_progress_lines(managed_env: dict[str, str]) -> None:
    run = Run.from_env(environ=managed_env, handle_sigterm=False)
    run.report(
        10,
        {"loss": 0.5, "dice": 1},
        epoch=1.5,
        total_steps=100,
        lr=0.2,
        samples_per_second=320.0,
        data_wait_seconds=0.01,
        step_seconds=0.2,
    )
    run.report(11, {"loss": 0.4})
    run.close()

    text = Path(managed_env["HOUNSFIELD_REPORT_FILE"]).read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    records = [_strict_json(line) for line in lines]
    assert [r["kind"] for r in records] == ["runtime", "progress", "progress"]
    assert all(r["v"] == 1 and r["at"].endswith("Z") for r in records)
    runtime = records[0]
    assert (
        runtime["cudaVisibleDevices"] == "2,3" and runtime["worldSize"] == 2 and runtime["pid"] == os.getpid()
    )
    assert records[1] == records[1] | {
        "step": 10,
        "metrics": {"loss": 0.5, "dice": 1.0},
        "epoch": 1.5,
        "totalSteps": 100,
        "lr": 0.2,
        "samplesPerSecond": 320.0,
        "dataWaitSeconds": 0.01,
        "stepSeconds": 0.2,
    }
    assert set(records[2]) == {"v", "kind", "at", "step", "metrics"}
    # What the SDK writes, the agent relays as valid contract messages.
    identity = AttemptIdentity("job-1", 2, "node-a")
    assert runtime_info(decode_line(lines[0])).cudaVisibleDevices == "2,3"
    assert progress_event(decode_line(lines[1]), identity, seq=0).totalSteps == 100


def test_non_finite_metrics_are_written_as_strings(managed_env: dict[str, str]) -> None:
    run = Run.from_env(environ=managed_env, handle_sigterm=False)
    run.report(1, {"loss": math.nan, "grad_norm": math.inf, "log_p": -math.inf, "ok": 0.5}, lr=math.nan)
    run.close()

    line = Path(managed_env["HOUNSFIELD_REPORT_FILE"]).read_text().splitlines()[-1]
    record = _strict_json(line)
    assert record["metrics"] == {"loss": "NaN", "grad_norm": "Infinity", "log_p": "-Infinity", "ok": 0.5}
    assert "lr" not in record  # a NaN learning rate cannot pass the contract; it is left out
    event = progress_event(decode_line(line), AttemptIdentity("job-1", 2, "node-a"), seq=0)
    assert event.metrics["loss"] == "NaN"


def test_only_rank_zero_reports(managed_env: dict[str, str]) -> None:
    run = Run.from_env(environ=managed_env | {"RANK": "1", "LOCAL_RANK": "1"}, handle_sigterm=False)
    run.report(1, {"loss": 1.0})
    assert not run.is_main
    assert not Path(managed_env["HOUNSFIELD_REPORT_FILE"]).exists()


def test_sigterm_sets_should_stop_instead_of_killing(
    restore_sigterm: None, managed_env: dict[str, str]
) -> None:
    run = Run.from_env(environ=managed_env)
    assert not run.should_stop
    os.kill(os.getpid(), signal.SIGTERM)
    assert run.should_stop
    assert run.should_stop_all_ranks()  # no process group: the local flag


def test_importing_the_sdk_does_not_import_torch_or_the_contract_models() -> None:
    # A trainer's start (and so its "running" status) should not wait for either.
    heavy = "'torch' in sys.modules or 'hounsfield.contracts.models' in sys.modules"
    code = f"import sys, hounsfield.sdk; sys.exit({heavy})"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
