"""Rotation: the log stays under its cap, its first segment stays, readers see where lines went."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hounsfield.worker.log_segments import LogLimits, SegmentWriter, list_segments, read_log

KiB = 1024
LIMITS = LogLimits(segment_bytes=64 * KiB, max_bytes=256 * KiB)


def _line(i: int) -> tuple[int, str]:
    return i % 2, f"line {i:06d} " + "x" * 180


def _disk_bytes(directory: Path) -> int:
    return sum(segment.path.stat().st_size for segment in list_segments(directory))


def test_rotation_keeps_the_cap_and_the_first_segment(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    writer = SegmentWriter(logs, LIMITS)
    largest = 0
    for start in range(0, 20_000, 100):  # ~4 MB of output through a 256 KiB cap
        writer.write([_line(i) for i in range(start, start + 100)])
        largest = max(largest, _disk_bytes(logs))
    writer.close()

    assert largest <= LIMITS.max_bytes
    segments = list_segments(logs)
    assert segments[0].index == 0 and segments[0].first_seq == 0
    assert segments[1].index > 1  # the middle went
    assert all(s.path.stat().st_size <= LIMITS.segment_bytes for s in segments)

    lines = list(read_log(logs))
    # The start-up is all there, then one marker, then the newest lines up to the last one.
    first_segment_lines = segments[0].path.read_bytes().count(b"\n")
    assert lines[:first_segment_lines] == [
        f"[rank {i % 2}] {_line(i)[1]}" for i in range(first_segment_lines)
    ]
    marker = lines[first_segment_lines]
    dropped = segments[1].first_seq - first_segment_lines
    assert re.fullmatch(
        rf"\[hounsfield\] … {dropped} lines dropped here by log rotation .*HOUNSFIELD_LOG_MAX_MIB.*", marker
    )
    assert (
        lines[first_segment_lines + 1]
        == f"[rank {segments[1].first_seq % 2}] {_line(segments[1].first_seq)[1]}"
    )
    assert lines[-1] == f"[rank 1] {_line(19_999)[1]}"
    assert sum(1 for line in lines if line.startswith("[hounsfield]")) == 1


def test_a_new_writer_continues_the_log_and_ends_a_cut_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    writer = SegmentWriter(logs, LIMITS)
    writer.write([(0, "one"), (1, "two")])
    writer.close()
    # A writer killed in the middle of a line leaves it without its newline.
    with list_segments(logs)[-1].path.open("ab") as file:
        file.write(b"[rank 0] cut sh")

    again = SegmentWriter(logs, LIMITS)
    assert again.next_seq == 3
    again.write([(1, "three")])
    again.close()
    assert list(read_log(logs)) == ["[rank 0] one", "[rank 1] two", "[rank 0] cut sh", "[rank 1] three"]


def test_limits_need_room_for_three_segments() -> None:
    with pytest.raises(ValidationError, match="at least three segments"):
        LogLimits(segment_bytes=64 * KiB, max_bytes=128 * KiB)
