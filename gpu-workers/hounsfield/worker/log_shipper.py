"""Shipping one attempt's log while it runs: live lines to JetStream, segments to the object store.

The launcher writes the log into segment files (``output_capture``); the shipper only reads them:

- **live**, every ``live_seconds`` (0.5 s): the new whole lines, in seq order, as
  ``LogLinesMessage``s on ``hf.logs.<job>.<attempt>`` (stream HF_LOGS), which the gateway relays
  to followers;
- **stored**, every ``upload_seconds`` (5 s, at most 10): each segment that grew, stored whole
  through a grant of the checkpoints service (``RPC.logsSegmentGrant``) and made readable with
  ``RPC.logsSegmentCommit``, which also tells the store which segments rotation dropped.

``finish()``, once the launcher exited, adds what the launcher printed outside its capture,
publishes and stores the rest, commits the last segment as ``final`` and publishes the ``end``
message. The progress of both lives in the attempt directory (``log_ship_state``): an agent that
re-adopts a running attempt creates a shipper for it the same way and continues where the last
one stood (``LogShipping.shipper``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from hounsfield.contracts.models import AccessGrant1, AccessGrant2, LogAttemptSummary, LogSegmentCommit
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.platform.checkpoint_client import CheckpointServiceError
from hounsfield.platform.checkpoint_transfer import put_part
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.cancellation import raise_if_cancelling
from hounsfield.worker.log_cursor import read_new_lines
from hounsfield.worker.log_live import LiveLines, LivePublisher, now
from hounsfield.worker.log_segments import (
    LogLimits,
    append_uncaptured_output,
    file_size,
    list_segments,
    whole_lines,
)
from hounsfield.worker.log_ship_state import ShipState, StoredSegment

_log = logging.getLogger(__name__)

#: Repeated shipping failures are logged at most this often.
WARN_EVERY_SECONDS = 60.0
#: How often a shipping loop that outlived its cancel is cancelled again.
STOP_RECANCEL_SECONDS = 1.0


class LogStore(Protocol):
    """The checkpoints service's logs API (``CheckpointClient``)."""

    async def log_segment_grant(
        self, job_id: str, attempt: int, index: int
    ) -> AccessGrant1 | AccessGrant2: ...

    async def log_segment_commit(self, commit: LogSegmentCommit) -> LogAttemptSummary: ...


@dataclass(frozen=True)
class ShipTiming:
    live_seconds: float = 0.5
    upload_seconds: float = 5.0
    #: How long ``finish`` keeps trying to complete the log while the store is unavailable.
    finish_seconds: float = 30.0


class LogShipper:
    def __init__(
        self,
        attempt_dir: AttemptDir,
        job_id: str,
        attempt: int,
        *,
        limits: LogLimits,
        timing: ShipTiming,
        store: LogStore | None,
        live: LivePublisher | None,
    ) -> None:
        self._dir = attempt_dir
        self._logs = attempt_dir.logs_dir
        self._job_id = job_id
        self._attempt = attempt
        self._limits = limits
        self._timing = timing
        self._store = store
        self._live = None if live is None else LiveLines(live, job_id, attempt)
        self._state = ShipState.load(self._logs)
        self._tasks: list[asyncio.Task[None]] = []
        self._last_warning = -WARN_EVERY_SECONDS

    @property
    def state(self) -> ShipState:
        return self._state

    def start(self) -> None:
        """Ships in the background until ``finish()`` or ``stop()``."""
        name = f"logs-{self._job_id}-{self._attempt}"
        if self._live is not None:
            live = self._every(self._timing.live_seconds, self.publish_new)
            self._tasks.append(asyncio.create_task(live, name=name))
        if self._store is not None:
            upload = self._every(self._timing.upload_seconds, self.store_changed)
            self._tasks.append(asyncio.create_task(upload, name=name))

    def stop(self) -> None:
        """Stops shipping without completing the log (the agent gave up on the attempt)."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def finish(self) -> None:
        """Completes the log once the launcher has exited (bounded by ``finish_seconds``).

        The live stream and the store are tried independently: one being down does not keep the
        log from the other.
        """
        await self._stop_loops()
        await asyncio.to_thread(append_uncaptured_output, self._dir.log_file, self._logs, self._limits)
        deadline = asyncio.get_running_loop().time() + self._timing.finish_seconds
        published = await self._until(deadline, "publishing its last lines", self._publish_rest)
        stored = await self._until(deadline, "storing it", lambda: self.store_changed(final=True))
        if published and stored:
            published = await self._until(deadline, "publishing its end", self._publish_end)
        if published and stored:
            self._state.final = True
            self._state.save(self._logs)

    async def _until(self, deadline: float, what: str, action: Callable[[], Awaitable[object]]) -> bool:
        """Runs ``action`` until it succeeds, a refusal, or ``deadline`` (it is tried at least once)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await action()
                return True
            except Exception as error:  # the store or NATS is unavailable, or refused
                retryable = not isinstance(error, CheckpointServiceError) or error.retryable
                if not retryable or loop.time() + 1.0 > deadline:
                    _log.error(
                        "attempt %s:%d: its log is incomplete (%s failed): %s",
                        self._job_id,
                        self._attempt,
                        what,
                        error,
                    )
                    return False
                await asyncio.sleep(1.0)

    async def _publish_rest(self) -> None:
        while await self.publish_new():
            pass

    # --- live ---------------------------------------------------------------------------------

    async def publish_new(self) -> bool:
        """Publishes the lines not published yet; True when there were some."""
        if self._live is None:
            return False
        lines, cursor = await asyncio.to_thread(read_new_lines, self._logs, self._state.live)
        await self._live.lines(lines)
        if cursor != self._state.live:
            self._state.live = cursor
            self._state.save(self._logs)
        return bool(lines)

    async def _publish_end(self) -> None:
        if self._live is not None:
            await self._live.end(self._state.live.seq)

    # --- stored -------------------------------------------------------------------------------

    async def store_changed(self, final: bool = False) -> bool:
        """Stores and commits every segment that changed since its last commit (and, when ``final``,
        the last one in any case, marked final). True when something was committed."""
        if self._store is None:
            return False
        segments = list_segments(self._logs)
        if not segments:
            return False
        # Segments 1 … dropped_before - 1 were deleted by rotation; segment 0 never is.
        dropped_before = next((s.index for s in segments if s.index >= 1), segments[-1].index + 1)
        committed = False
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            closed = not last
            known = self._state.stored.get(segment.index)
            if (
                not (final and last)
                and known is not None
                and known.closed == closed
                and file_size(segment.path) == known.bytes
            ):
                continue  # nothing new (known without reading the segment)
            captured_at = now()
            measured = await asyncio.to_thread(whole_lines, segment.path)
            if measured is None:
                continue
            size, lines = measured
            unchanged = known is not None and known.bytes == size and known.closed == closed
            if (unchanged or (size == 0 and not last)) and not (final and last):
                continue
            grant = await self._store.log_segment_grant(self._job_id, self._attempt, segment.index)
            await asyncio.to_thread(put_part, grant, segment.path, 0, size)
            commit = LogSegmentCommit.model_validate(
                {
                    "v": SCHEMA_VERSION,
                    "jobId": self._job_id,
                    "attempt": self._attempt,
                    "index": segment.index,
                    "firstSeq": segment.first_seq,
                    "lines": lines,
                    "bytes": size,
                    "closed": closed,
                    "droppedBefore": dropped_before,
                    "final": final and last,
                    "capturedAt": captured_at,
                    "maxBytes": self._limits.max_bytes,
                }
            )
            await self._store.log_segment_commit(commit)
            self._state.stored[segment.index] = StoredSegment(bytes=size, lines=lines, closed=closed)
            self._state.dropped_before = dropped_before
            stored = self._state.stored
            self._state.stored = {i: s for i, s in stored.items() if i == 0 or i >= dropped_before}
            self._state.save(self._logs)
            committed = True
        return committed

    # --- helpers ------------------------------------------------------------------------------

    async def _every(self, seconds: float, ship: Callable[[], Awaitable[bool]]) -> None:
        while True:
            try:
                await ship()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again; the trainer never waits for it
                raise_if_cancelling(error)
                self._warn(error)
            await asyncio.sleep(seconds)

    async def _stop_loops(self) -> None:
        """Cancels the shipping loops and waits for them, cancelling again while one is still
        running (a swallowed cancel once left an attempt's end unreported for good)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=STOP_RECANCEL_SECONDS)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _warn(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            _log.warning(
                "attempt %s:%d: log shipping failed, will retry: %s", self._job_id, self._attempt, error
            )
