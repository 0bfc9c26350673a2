"""One rank's failure ends the whole job at once and visibly (issue #19, item 10): two processes
under the worker's launcher (torchrun, gloo), the shared loop, and a fault on one rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hounsfield.worker.launcher import LAUNCH_ERROR_EXIT_CODE

HERE = Path(__file__).parent


def _launch(tmp_path: Path, config: dict[str, object]) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUNSFIELD_")}
    env |= {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "hounsfield.worker.launcher", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "fault_recipe", "--output-dir", str(tmp_path / "out"), "--config", json.dumps(config)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def _leftovers() -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if "fault_recipe" in line and "ps -eo" not in line]


@pytest.mark.parametrize("rank", [0, 1])
def test_a_rank_that_raises_ends_every_rank_with_its_traceback(tmp_path: Path, rank: int) -> None:
    code, log, seconds = _launch(tmp_path, {"failRank": rank, "failAtStep": 3})
    assert code not in (0, LAUNCH_ERROR_EXIT_CODE), log
    assert seconds < 60, f"took {seconds:.0f} s"
    assert f"RuntimeError: injected failure on rank {rank} at step 3" in log
    assert "Traceback (most recent call last)" in log
    assert _leftovers() == []


def test_a_checkpoint_write_failing_on_rank_zero_ends_the_job(tmp_path: Path) -> None:
    code, log, seconds = _launch(tmp_path, {"breakCheckpointsAtStep": 3})
    assert code != 0, log
    assert seconds < 60, f"took {seconds:.0f} s"
    assert "checkpoints" in log and "Traceback (most recent call last)" in log
    assert _leftovers() == []
