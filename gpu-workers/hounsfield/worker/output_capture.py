"""The launcher's capture of every rank's output (and its own) into the attempt's log segments.

Each rank gets one pipe for both stdout and stderr, so its lines keep the order it wrote them in,
and no two ranks share a pipe, so their unfinished lines never mix. The launcher's own output
(torchrun's messages, launch errors) goes through a pipe too. One thread reads them all and
appends whole lines, prefixed with their source, to the segments (``log_lines``,
``log_segments``). Ranks write unbuffered (torchrun starts them with ``python -u``), and a line
reaches the segment file as soon as the thread reads it.

The capture lives in the launcher, not in the agent, so a restarted agent (or none at all) never
blocks or loses the trainer's output; the agent only reads the segment files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import sys
import threading
import time

from hounsfield.worker.log_lines import LAUNCHER, LineSplitter, Source
from hounsfield.worker.log_segments import SegmentWriter

_log = logging.getLogger(__name__)

_READ_BYTES = 64 * 1024
#: After the launcher is done, how long the thread keeps reading what ranks' children still write.
DRAIN_SECONDS = 2.0
#: A drain ends early once no pipe produced data for this long.
_QUIET_SECONDS = 0.2


class OutputCapture:
    """Pipes in, prefixed lines out. ``start()``, hand out ``rank_path()``s, ``close()`` at the end."""

    def __init__(self, writer: SegmentWriter) -> None:
        self._writer = writer
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._added: queue.SimpleQueue[tuple[int, Source]] = queue.SimpleQueue()
        self._write_ends: list[int] = []
        self._saved_std: list[int] = []
        self._stopping = threading.Event()
        self._drain_seconds = DRAIN_SECONDS
        self._thread = threading.Thread(target=self._run, name="output-capture", daemon=True)
        self._write_errors = 0

    def start(self) -> None:
        self._thread.start()

    def capture_own_output(self) -> None:
        """Sends this process's stdout and stderr (file descriptors 1 and 2) through the capture."""
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        self._saved_std = [os.dup(1), os.dup(2)]
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._add(read_end, LAUNCHER)

    def rank_path(self, rank: int) -> str:
        """A path that, opened for writing, is the pipe of global rank ``rank`` (for stdout and stderr)."""
        read_end, write_end = os.pipe()
        self._write_ends.append(write_end)  # kept open so the path stays valid until close()
        self._add(read_end, rank)
        return f"/dev/fd/{write_end}"

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Restores stdout/stderr, reads what is left in the pipes, ends unfinished lines, closes."""
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self._saved_std, strict=False):
            os.dup2(saved, fd)
            os.close(saved)
        self._saved_std = []
        for fd in self._write_ends:
            os.close(fd)
        self._write_ends = []
        self._drain_seconds = drain_seconds
        self._stopping.set()
        self._wake()
        self._thread.join(drain_seconds + 5.0)
        self._writer.close()
        if self._write_errors:
            _log.warning("%d batches of output lines could not be written to the log", self._write_errors)

    def _add(self, read_end: int, source: Source) -> None:
        os.set_blocking(read_end, False)
        self._added.put((read_end, source))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"x")

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        splitters: dict[int, tuple[Source, LineSplitter]] = {}
        drain_deadline: float | None = None
        last_data = time.monotonic()
        while True:
            self._register_added(splitters)
            if self._stopping.is_set() and drain_deadline is None:
                drain_deadline = time.monotonic() + self._drain_seconds
            timeout = None if drain_deadline is None else _QUIET_SECONDS
            got_data = False
            for key, _ in self._selector.select(timeout):
                fd = int(key.fd)
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        os.read(fd, 4096)
                    continue
                got_data = self._read(fd, splitters) or got_data
            now = time.monotonic()
            if got_data:
                last_data = now
            if drain_deadline is not None and (
                not splitters or now >= drain_deadline or now - last_data >= _QUIET_SECONDS
            ):
                break
        for fd, (source, splitter) in splitters.items():
            self._append(source, splitter.flush())
            os.close(fd)
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _register_added(self, splitters: dict[int, tuple[Source, LineSplitter]]) -> None:
        while not self._added.empty():
            fd, source = self._added.get()
            splitters[fd] = (source, LineSplitter())
            self._selector.register(fd, selectors.EVENT_READ, source)

    def _read(self, fd: int, splitters: dict[int, tuple[Source, LineSplitter]]) -> bool:
        source, splitter = splitters[fd]
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return False
        if not data:  # every writer closed it
            self._append(source, splitter.flush())
            self._selector.unregister(fd)
            os.close(fd)
            del splitters[fd]
            return False
        self._append(source, splitter.feed(data))
        return True

    def _append(self, source: Source, lines: list[str]) -> None:
        if not lines:
            return
        try:
            self._writer.write([(source, text) for text in lines])
        except OSError:
            # A full disk must not block the ranks: their pipes keep being read, the lines are lost.
            self._write_errors += 1
