"""An attempt's log on the worker's disk: numbered segment files, rotated under a cap.

``<attempt dir>/logs/<index, 6 digits>-<first line seq, 12 digits>.log`` holds whole lines in
the format of ``log_lines``. Line ``seq`` numbers count the attempt's lines from 0; a segment's
name carries the seq of its first line, so any line's seq follows from its position.

Rotation keeps the log within ``LogLimits.max_bytes``: a segment is closed once the next line
would make it larger than ``segment_bytes``, and when the closed segments and a full new one would
pass the cap, the oldest segments after the first are deleted. The first segment (the start-up,
where the configuration and the first errors are) is never deleted; readers show a marker line
where lines are missing (their seq numbers jump).

One writer at a time: the launcher while it runs, the agent after it exited (to add what the
launcher printed outside its capture). A writer continues a log it finds on disk.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hounsfield.worker.log_lines import LAUNCHER, MAX_LINE_BYTES, PLATFORM, LineSplitter, Source, format_line

_log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{6})-(\d{12})\.log$")
KiB = 1024
MiB = 1024 * KiB


class LogLimits(BaseModel):
    """How large one attempt's log may grow on the worker's disk (and in the store)."""

    model_config = ConfigDict(frozen=True)

    segment_bytes: int = Field(default=1 * MiB, ge=4 * MAX_LINE_BYTES)
    max_bytes: int = Field(default=256 * MiB, gt=0)

    @model_validator(mode="after")
    def _room_for_three(self) -> LogLimits:
        # The first segment, at least one kept segment and the open one.
        if self.max_bytes < 3 * self.segment_bytes:
            raise ValueError(
                f"the log cap ({self.max_bytes} bytes) must hold at least three segments "
                f"of {self.segment_bytes} bytes"
            )
        return self


@dataclass(frozen=True, order=True)
class Segment:
    index: int
    first_seq: int
    path: Path

    @staticmethod
    def name(index: int, first_seq: int) -> str:
        return f"{index:06d}-{first_seq:012d}.log"


def list_segments(directory: Path) -> list[Segment]:
    """The segments on disk, oldest first (none when the directory does not exist)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    segments = []
    for name in names:
        match = _NAME.match(name)
        if match is not None:
            segments.append(Segment(int(match.group(1)), int(match.group(2)), directory / name))
    return sorted(segments)


def file_size(path: Path) -> int:
    """0 when the file is gone."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def whole_lines(path: Path) -> tuple[int, int] | None:
    """Bytes up to the end of the last whole line, and how many lines that is (None: file gone)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    size = data.rfind(b"\n") + 1
    return size, data.count(b"\n", 0, size)


class SegmentWriter:
    """Appends lines to the newest segment, rotating and deleting under ``limits``."""

    def __init__(self, directory: Path, limits: LogLimits) -> None:
        self._directory = directory
        self._limits = limits
        directory.mkdir(parents=True, exist_ok=True)
        existing = list_segments(directory)
        self._closed: list[tuple[Segment, int]] = [(s, file_size(s.path)) for s in existing[:-1]]
        if existing:
            self._current = existing[-1]
            self._next_seq = self._current.first_seq + self._recover(self._current.path)
        else:
            self._current = Segment(0, 0, directory / Segment.name(0, 0))
            self._next_seq = 0
        self._fd = os.open(self._current.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    @property
    def next_seq(self) -> int:
        """The seq the next line gets."""
        return self._next_seq

    def write(self, lines: list[tuple[Source, str]]) -> None:
        """Appends lines (one write per segment, so readers see them promptly)."""
        batch = bytearray()
        for source, text in lines:
            encoded = (format_line(source, text) + "\n").encode("utf-8", errors="replace")
            pending = self._size + len(batch)
            if pending > 0 and pending + len(encoded) > self._limits.segment_bytes:
                self._write_all(batch)
                batch.clear()
                self._rotate()
            batch += encoded
            self._next_seq += 1
        self._write_all(batch)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _write_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._size += written

    def _rotate(self) -> None:
        os.close(self._fd)
        self._closed.append((self._current, self._size))
        index = self._current.index + 1
        self._current = Segment(index, self._next_seq, self._directory / Segment.name(index, self._next_seq))
        self._fd = os.open(self._current.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = 0
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        """Deletes the oldest segments after the first until a full open segment fits the cap."""
        total = sum(size for _, size in self._closed) + self._limits.segment_bytes
        while total > self._limits.max_bytes and len(self._closed) > 1:
            dropped, size = self._closed.pop(1)
            dropped.path.unlink(missing_ok=True)
            total -= size
            _log.debug("log segment %s dropped by rotation", dropped.path.name)

    @staticmethod
    def _recover(path: Path) -> int:
        """Lines in a segment left by an earlier writer; a cut last line is ended first."""
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with path.open("ab") as file:
                file.write(b"\n")
            return data.count(b"\n") + 1
        return data.count(b"\n")


#: What is taken at most from a launcher's output outside its capture (its end).
UNCAPTURED_OUTPUT_BYTES = 256 * KiB


def append_uncaptured_output(path: Path, directory: Path, limits: LogLimits) -> None:
    """Adds what the launcher printed outside its capture (``path``) to the log as its lines, once:
    the file is emptied afterwards. Only while no launcher writes the log."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - UNCAPTURED_OUTPUT_BYTES))
            data = file.read()
    except FileNotFoundError:
        return
    if not data:
        return
    splitter = LineSplitter()
    lines = [*splitter.feed(data), *splitter.flush()]
    writer = SegmentWriter(directory, limits)
    try:
        writer.write([(LAUNCHER, line) for line in lines])
    finally:
        writer.close()
    path.write_bytes(b"")


def dropped_marker(count: int) -> str:
    """The line readers show where rotation dropped ``count`` lines (the services write the same)."""
    return format_line(
        PLATFORM,
        f"… {count} lines dropped here by log rotation (an attempt's log keeps its first segment "
        "and its newest lines, HOUNSFIELD_LOG_MAX_MIB in all) …",
    )


def read_log(directory: Path) -> Iterator[str]:
    """Every line of the log on disk, oldest first, with a marker line where rotation dropped some."""
    expected = 0
    for segment in list_segments(directory):
        try:
            data = segment.path.read_bytes()
        except FileNotFoundError:
            continue
        if segment.first_seq > expected:
            yield dropped_marker(segment.first_seq - expected)
        lines = data.decode("utf-8", errors="replace").splitlines()
        yield from lines
        expected = segment.first_seq + len(lines)


def read_tail(directory: Path, count: int, window_bytes: int = 256 * KiB) -> list[str]:
    """The last ``count`` lines of the log (from its newest segments, reading at most ``window_bytes``)."""
    lines: list[str] = []
    budget = window_bytes
    for segment in reversed(list_segments(directory)):
        try:
            with segment.path.open("rb") as file:
                file.seek(0, os.SEEK_END)
                size = file.tell()
                start = max(0, size - budget)
                file.seek(start)
                data = file.read()
        except FileNotFoundError:
            continue
        budget -= len(data)
        chunk = data.decode("utf-8", errors="replace").splitlines()
        if start > 0 and chunk:
            chunk = chunk[1:]  # probably cut
        lines = chunk + lines
        if len(lines) >= count or budget <= 0:
            break
    return lines[-count:] if count > 0 else []
