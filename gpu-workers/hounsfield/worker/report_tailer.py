"""Follows a trainer's report file, returning only whole lines (the SDK flushes one line at a time).

``position`` is the byte offset just after the last whole line returned; an agent that re-adopts a
running trainer starts a new tailer there (``offset``) and continues without a gap or a repeat.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO


class ReportTailer:
    def __init__(self, path: Path, offset: int = 0) -> None:
        self._path = path
        self._file: BinaryIO | None = None
        self._partial = b""
        self._offset = offset

    @property
    def position(self) -> int:
        """Bytes of the file consumed as whole lines so far."""
        return self._offset

    def _read(self) -> bytes:
        if self._file is None:
            try:
                self._file = self._path.open("rb")
            except FileNotFoundError:
                return b""
            self._file.seek(self._offset)
        return self._file.read()

    def read_lines(self) -> list[str]:
        """Lines completed since the last call; a trailing partial line waits for its newline."""
        data = self._partial + self._read()
        *lines, self._partial = data.split(b"\n")
        # The previous partial line was not counted yet; the new one is not counted until whole.
        self._offset += len(data) - len(self._partial)
        return [line.decode("utf-8", errors="replace") for line in lines if line.strip()]

    def read_remaining(self) -> list[str]:
        """After the trainer exited: every remaining line, including one left without a newline."""
        lines = self.read_lines()
        if self._partial.strip():
            lines.append(self._partial.decode("utf-8", errors="replace"))
        self._offset += len(self._partial)
        self._partial = b""
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
