"""The last lines of a trainer log, sized for a status event's ``logTail``."""

from __future__ import annotations

from pathlib import Path

MAX_LINE_CHARS = 4096
#: Enough bytes for 50 long lines without reading a multi-gigabyte log.
_WINDOW_BYTES = 256 * 1024


def tail_lines(path: Path, count: int = 50) -> list[str]:
    """Up to ``count`` last lines (each cut to the contract's 4096 characters); [] when absent."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(0, size - _WINDOW_BYTES))
            data = file.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > _WINDOW_BYTES and lines:
        lines = lines[1:]  # the first line of the window is probably cut
    return [line[:MAX_LINE_CHARS] for line in lines[-count:]]
