"""The fault trainer behaves as the alert tests expect, run standalone (no platform)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from harness.trainer_context import managed_environ

from hounsfield.examples.health_faults import loss_at


def test_loss_schedule_per_fault() -> None:
    assert [loss_at(s, "none", 3) for s in (1, 2, 4)] == [1.0, 0.5, 0.25]
    assert math.isnan(loss_at(3, "nan", 3)) and math.isnan(loss_at(7, "nan", 3))
    assert loss_at(2, "nan", 3) == 0.5
    assert loss_at(4, "spike", 4) == 5.0 and loss_at(5, "spike", 4) == 0.2


def test_reports_nan_and_data_wait_through_the_sdk(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    env = {**managed_environ(tmp_path, report_file=report, output_dir=tmp_path / "out"), "PATH": ""}
    command = [sys.executable, "-m", "hounsfield.examples.health_faults", "--fault", "nan", "--at", "2"]
    subprocess.run([*command, "--steps", "3", "--sleep", "0"], env=env, check=True, timeout=60)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    progress = [r for r in records if r["kind"] == "progress"]
    assert [p["metrics"]["loss"] for p in progress] == [1.0, "NaN", "NaN"]
    assert all(p["stepSeconds"] >= p["dataWaitSeconds"] >= 0 for p in progress)
