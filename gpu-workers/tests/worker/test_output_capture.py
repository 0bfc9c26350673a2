"""The launcher's capture: every rank's lines whole and prefixed with its global rank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hounsfield.worker.launcher import capture_command_options
from hounsfield.worker.log_segments import LogLimits, SegmentWriter, read_log
from hounsfield.worker.output_capture import OutputCapture

# Writes its pieces to stdout and stderr (both the same pipe), pausing between them so that the
# other writer's pieces fall in between: A1 B1 A2 B2 ... arrive interleaved at the capture.
_WRITER = """
import os, sys, time
name, delay = sys.argv[1], float(sys.argv[2])
time.sleep(delay)
for i in range(5):
    os.write(1, f"{name} line {i} starts ".encode())
    time.sleep(0.04)
    os.write(2, f"and ends on stderr\\n{name} progress {i}\\r".encode())
    time.sleep(0.04)
os.write(1, f"{name} last words without a newline".encode())
"""


def _write_through(path: str, name: str, delay: float) -> subprocess.Popen[bytes]:
    with open(path, "w") as out, open(path, "w") as err:  # as torchrun opens a rank's two streams
        return subprocess.Popen([sys.executable, "-c", _WRITER, name, str(delay)], stdout=out, stderr=err)


def test_partial_lines_of_interleaved_ranks_stay_whole(tmp_path: Path) -> None:
    capture = OutputCapture(SegmentWriter(tmp_path / "logs", LogLimits()))
    capture.start()
    writers = [_write_through(capture.rank_path(rank), f"r{rank}", 0.02 * rank) for rank in (0, 1)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    capture.close()

    lines = list(read_log(tmp_path / "logs"))
    for rank in (0, 1):
        own = [line for line in lines if line.startswith(f"[rank {rank}] ")]
        expected = []
        for i in range(5):
            expected += [
                f"[rank {rank}] r{rank} line {i} starts and ends on stderr",
                f"[rank {rank}] r{rank} progress {i}",
            ]
        assert own == [*expected, f"[rank {rank}] r{rank} last words without a newline"]
    assert len(lines) == 2 * 11
    # The two ranks really were interleaved, not one after the other.
    ranks = [line[:8] for line in lines]
    assert ranks.index("[rank 1]") < len(ranks) - 1 - ranks[::-1].index("[rank 0]")


def test_global_ranks_come_from_the_rendezvous_environment(tmp_path: Path) -> None:
    from hounsfield.worker.rank_logs_specs import RankLogsSpecs  # imports torch

    capture = OutputCapture(SegmentWriter(tmp_path / "logs", LogLimits()))
    capture.start()
    # Node 3 of a job with 2 processes per node: local ranks 0 and 1 are global ranks 6 and 7.
    envs = {local: {"RANK": str(6 + local), "LOCAL_RANK": str(local), "GROUP_RANK": "3"} for local in (0, 1)}
    destinations = RankLogsSpecs(capture, str(tmp_path / "torchelastic")).reify(envs)
    for local in (0, 1):
        assert destinations.stdouts[local] == destinations.stderrs[local]
        with open(destinations.stdouts[local], "w") as stream:
            stream.write(f"local rank {local} here\n")
    assert envs[0]["TORCHELASTIC_ERROR_FILE"].startswith(str(tmp_path / "torchelastic"))
    capture.close()
    assert sorted(read_log(tmp_path / "logs")) == ["[rank 6] local rank 0 here", "[rank 7] local rank 1 here"]


def _launch(tmp_path: Path, nproc: int, module: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HOUNSFIELD_REPORT_FILE": str(tmp_path / "report.jsonl"), "CUDA_VISIBLE_DEVICES": ""}
    command = [
        sys.executable,
        "-m",
        "hounsfield.worker.launcher",
        *capture_command_options(tmp_path / "logs", LogLimits()),
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        module,
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, timeout=240)


@pytest.mark.timeout(300)
def test_launcher_captures_both_ranks_of_a_ddp_run(tmp_path: Path) -> None:
    done = _launch(tmp_path, 2, "hounsfield.examples.log_ticks", "--ticks", "2", "--interval", "0.05")

    assert done.returncode == 0, done.stderr
    assert done.stdout == b""  # nothing escaped the capture
    lines = list(read_log(tmp_path / "logs"))
    for rank in (0, 1):
        assert f"[rank {rank}] rank {rank} of 2 started; all-reduce sum 3" in lines
        assert f"[rank {rank}] rank {rank} writes this line in two pieces" in lines
        assert f"[rank {rank}] rank {rank} says hello on stderr" in lines
        ticks = [line for line in lines if line.startswith(f"[rank {rank}] tick ")]
        assert [tick.split()[3] for tick in ticks] == ["0", "1"]
        assert lines.index(f"[rank {rank}] rank {rank} done") > lines.index(ticks[-1])


@pytest.mark.timeout(300)
def test_launcher_with_capture_keeps_the_rank_exit_code(tmp_path: Path) -> None:
    done = _launch(tmp_path, 1, "hounsfield.examples.exit_code", "--code", "5")

    assert done.returncode == 5
    lines = list(read_log(tmp_path / "logs"))
    assert any(line.startswith("[rank 0] ") and "exiting with code 5" in line for line in lines)
    assert any(line.startswith("[launcher] ") and "rank 0 failed with exit code 5" in line for line in lines)
