"""Reading the report file: whole lines only, and records checked against the contracts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hounsfield.worker.log_segments import LogLimits, SegmentWriter, list_segments
from hounsfield.worker.log_tail import tail_lines
from hounsfield.worker.report_records import AttemptIdentity, ReportRecordError, decode_line, progress_event
from hounsfield.worker.report_tailer import ReportTailer

IDENTITY = AttemptIdentity("job-1", 1, "node-a")


def test_tailer_waits_for_the_newline(tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    tailer = ReportTailer(path)
    assert tailer.read_lines() == []  # not created yet
    with path.open("a") as file:
        file.write('{"a": 1}\n{"b"')
        file.flush()
        assert tailer.read_lines() == ['{"a": 1}']
        file.write(": 2}\n")
        file.flush()
        assert tailer.read_lines() == ['{"b": 2}']
        file.write('{"c": 3}')
    assert tailer.read_remaining() == ['{"c": 3}']


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"v": 2, "kind": "progress"}',
        '{"v": 1, "kind": "gossip"}',
        '{"v": 1, "kind": "progress", "step": -1, "metrics": {}}',
        '{"v": 1, "kind": "progress", "step": 1, "metrics": {"loss": "NaNa"}}',
        '{"v": 1, "kind": "progress", "step": 1, "metrics": {}, "surprise": true}',
    ],
)
def test_bad_records_are_refused(line: str) -> None:
    with pytest.raises(ReportRecordError):
        progress_event(decode_line(line), IDENTITY, seq=0)


def test_progress_record_becomes_a_progress_event() -> None:
    line = (
        '{"v":1,"kind":"progress","at":"2026-01-01T00:00:00.000Z","step":5,"metrics":{"loss":"NaN"},"lr":0.1}'
    )
    event = progress_event(decode_line(line), IDENTITY, seq=4)
    assert (event.jobId, event.attempt, event.workerId, event.seq, event.step) == ("job-1", 1, "node-a", 4, 5)
    assert event.metrics == {"loss": "NaN"} and event.at == "2026-01-01T00:00:00.000Z"


def test_log_tail_keeps_the_last_lines_across_segments(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path / "logs", LogLimits(segment_bytes=64 * 1024, max_bytes=1024 * 1024))
    writer.write([(0, f"line {i} " + "." * 1000) for i in range(120)])
    writer.write([(1, "x" * 5000)])
    writer.close()
    assert len(list_segments(tmp_path / "logs")) > 1
    tail = tail_lines(tmp_path / "logs", count=50)
    assert len(tail) == 50 and tail[-2].startswith("[rank 0] line 119 ") and len(tail[-1]) == 4096
    assert tail[-1].startswith("[rank 1] xxx")
    assert tail_lines(tmp_path / "missing") == []
