"""The torchrun wrapper: module check before torch, and rank exit codes kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hounsfield.worker.exit_status import describe_exit
from hounsfield.worker.launcher import (
    capture_command_options,
    missing_module_reason,
    module_argument,
    signal_exit_code,
)
from hounsfield.worker.log_segments import LogLimits, read_log


def test_module_argument() -> None:
    assert module_argument(["--standalone", "--nproc_per_node=2", "-m", "a.b", "--x"]) == "a.b"
    assert module_argument(["train.py"]) is None


def test_missing_module_reason() -> None:
    assert missing_module_reason("hounsfield.examples.count") is None
    reason = missing_module_reason("hounsfield.trainers_nowhere.x")
    assert reason is not None and "No module named 'hounsfield.trainers_nowhere'" in reason
    # A package without __main__ (a model family still being built) cannot run under `python -m`.
    assert missing_module_reason("hounsfield.recipes.pcdiff") is None
    reason = missing_module_reason("hounsfield.recipes")
    assert reason is not None and reason.endswith("as a runnable module (no __main__)")


def test_signal_exit_codes_follow_the_shell_convention() -> None:
    assert signal_exit_code(-9) == 137 and signal_exit_code(3) == 3
    assert describe_exit(3) == "trainer exited with code 3"
    assert "SIGKILL" in describe_exit(137) and "SIGTERM" in describe_exit(-15)


@pytest.mark.timeout(120)
def test_launcher_keeps_the_ranks_exit_code(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    env = {**os.environ, "HOUNSFIELD_REPORT_FILE": str(report), "CUDA_VISIBLE_DEVICES": ""}
    launcher = [sys.executable, "-m", "hounsfield.worker.launcher"]
    torchrun = ["--standalone", "--nproc_per_node=1", "-m"]
    # As the agent launches it: output captured into the attempt's log.
    capture = capture_command_options(tmp_path / "logs", LogLimits())

    failed = subprocess.run(
        [*launcher, *capture, *torchrun, "hounsfield.examples.exit_code", "--code", "5"],
        env=env,
        capture_output=True,
    )
    missing = subprocess.run(
        [*launcher, *torchrun, "hounsfield.trainers.nothing"], env=env, capture_output=True
    )

    assert failed.returncode == 5
    assert failed.stdout == b""  # nothing escaped the capture
    lines = list(read_log(tmp_path / "logs"))
    assert any(line.startswith("[rank 0] ") and "exiting with code 5" in line for line in lines)
    assert any(line.startswith("[launcher] ") and "rank 0 failed with exit code 5" in line for line in lines)
    assert missing.returncode == 2
    last = json.loads(report.read_text().splitlines()[-1])
    assert last["kind"] == "launch_error" and "hounsfield.trainers" in last["reason"]
