"""The line format of attempt logs, and cutting a process's output into such lines.

Every stored line is its source in brackets, one space, then the text::

    [rank 0] epoch 1 step 20 loss 0.1234
    [rank 1] Traceback (most recent call last):
    [launcher] rank 1 failed with exit code 3

``rank N`` is the global rank (torchrun's ``RANK``: node rank × processes per node + local rank);
``launcher`` is the launcher itself and torchrun's own messages. Readers add ``[hounsfield]``
lines where lines are missing (dropped by rotation). stdout and stderr of a rank share its lines,
in the order the rank wrote them.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (a progress bar that redraws itself shows up
as one line per redraw instead of one endless line). Lines longer than ``MAX_LINE_BYTES`` are cut
into several. Bytes that are not UTF-8 become U+FFFD.
"""

from __future__ import annotations

import re
from typing import Literal

#: Longer lines are cut; a segment always holds many lines.
MAX_LINE_BYTES = 16 * 1024
LAUNCHER: Literal["launcher"] = "launcher"
PLATFORM: Literal["hounsfield"] = "hounsfield"

#: A global rank, the launcher, or the platform's own notes (markers added by readers).
Source = int | Literal["launcher", "hounsfield"]

_PREFIX = re.compile(r"^\[(?:rank (\d+)|(launcher|hounsfield))\] ")


def format_line(source: Source, text: str) -> str:
    """The stored form of one line (without its newline)."""
    label = f"rank {source}" if isinstance(source, int) else source
    return f"[{label}] {text}"


def parse_line(line: str) -> tuple[Source, str]:
    """The source and text of a stored line; an unprefixed line counts as the launcher's."""
    match = _PREFIX.match(line)
    if match is None:
        return LAUNCHER, line
    rank, named = match.group(1), match.group(2)
    source: Source = int(rank) if rank is not None else (PLATFORM if named == PLATFORM else LAUNCHER)
    return source, line[match.end() :]


class LineSplitter:
    """Cuts one process's output stream into lines, keeping an unfinished line until it ends."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._pending = bytearray()
        self._max = max_line_bytes
        # The previous chunk ended in "\r": a "\n" that starts the next chunk belongs to it.
        self._after_cr = False

    def feed(self, data: bytes) -> list[str]:
        """The lines that ``data`` completes."""
        lines: list[str] = []
        start = 0
        if self._after_cr and data.startswith(b"\n"):
            start = 1
        self._after_cr = False
        position = start
        while True:
            newline = data.find(b"\n", position)
            carriage = data.find(b"\r", position)
            ends = [i for i in (newline, carriage) if i >= 0]
            if not ends:
                break
            end = min(ends)
            self._pending += data[start:end]
            ended_by_cr = end == carriage
            if ended_by_cr:
                if end + 1 < len(data) and data[end + 1 : end + 2] == b"\n":
                    ended_by_cr, end = False, end + 1
                elif end + 1 == len(data):
                    self._after_cr = True
            # A redraw ("\r" right after a line ended) makes no empty line; an empty print() does.
            if self._pending or not ended_by_cr:
                lines.extend(self._take(self._pending))
            self._pending.clear()
            start = position = end + 1
        self._pending += data[start:]
        while len(self._pending) > self._max:
            cut = _utf8_boundary(self._pending, self._max)
            lines.extend(self._take(self._pending[:cut]))
            del self._pending[:cut]
        return lines

    def flush(self) -> list[str]:
        """The unfinished line, if any, as a line (the stream ended)."""
        self._after_cr = False
        if not self._pending:
            return []
        lines = self._take(self._pending)
        self._pending.clear()
        return lines

    def _take(self, raw: bytes | bytearray) -> list[str]:
        lines = []
        view = bytes(raw)
        while len(view) > self._max:
            cut = _utf8_boundary(view, self._max)
            lines.append(view[:cut].decode("utf-8", errors="replace"))
            view = view[cut:]
        lines.append(view.decode("utf-8", errors="replace"))
        return lines


def _utf8_boundary(data: bytes | bytearray, limit: int) -> int:
    """The largest cut ≤ ``limit`` that does not split a UTF-8 character (``limit`` if none fits)."""
    cut = limit
    while cut > limit - 4 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > limit - 4 and cut > 0 else limit
