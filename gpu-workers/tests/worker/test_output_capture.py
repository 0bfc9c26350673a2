"""The launcher's capture: every rank's lines whole and prefixed with its global rank."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from hounsfield.worker.log_segments import LogLimits, SegmentWriter, read_log
from hounsfield.worker.output_capture import OutputCapture


def _wait_for(directory: Path, line: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = list(read_log(directory))
        if line in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_partial_lines_of_interleaved_ranks_stay_whole(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = OutputCapture(SegmentWriter(logs, LogLimits()))
    capture.start()
    # Each rank's stdout and stderr, opened on its pipe as torchrun opens them.
    paths = {rank: capture.rank_path(rank) for rank in (0, 1)}
    with contextlib.ExitStack() as opened:
        streams = {
            (rank, name): opened.enter_context(open(paths[rank], "wb", buffering=0))
            for rank in (0, 1)
            for name in ("out", "err")
        }
        for i in range(3):
            streams[0, "out"].write(f"rank zero step {i} starts ".encode())
            streams[1, "out"].write(f"rank one step {i} starts ".encode())
            streams[1, "err"].write(b"and ends on stderr\n")
            # Rank 1's line is complete and written while rank 0's is still half printed.
            rank_one = f"[rank 1] rank one step {i} starts and ends on stderr"
            assert rank_one in _wait_for(logs, rank_one)
            streams[0, "err"].write(b"and ends on stderr\r\n")
            rank_zero = f"[rank 0] rank zero step {i} starts and ends on stderr"
            assert rank_zero in _wait_for(logs, rank_zero)
        streams[0, "out"].write(b"last words without a newline")
    capture.close()

    lines = list(read_log(logs))
    expected = []
    for i in range(3):
        expected += [
            f"[rank 1] rank one step {i} starts and ends on stderr",
            f"[rank 0] rank zero step {i} starts and ends on stderr",
        ]
    assert lines == [*expected, "[rank 0] last words without a newline"]


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
