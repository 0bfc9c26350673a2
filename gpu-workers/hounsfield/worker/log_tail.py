"""The last lines of an attempt's log, sized for a status event's ``logTail``."""

from __future__ import annotations

from pathlib import Path

from hounsfield.worker.log_segments import read_tail

MAX_LINE_CHARS = 4096


def tail_lines(logs_dir: Path, count: int = 50) -> list[str]:
    """Up to ``count`` last lines (each cut to the contract's 4096 characters); [] when there are none."""
    return [line[:MAX_LINE_CHARS] for line in read_tail(logs_dir, count)]
