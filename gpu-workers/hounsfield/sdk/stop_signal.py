"""Turns SIGTERM into a flag the training loop polls, so a trainer can checkpoint and exit 0.

The worker agent sends SIGTERM when a job is cancelled or the worker shuts down, waits a grace
period, then sends SIGKILL. Once this handler is installed SIGTERM no longer ends the process by
itself: the trainer must check ``Run.should_stop`` (every step is typical), save what it needs and
return normally. A trainer that never checks is killed when the grace period ends.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

_log = logging.getLogger("hounsfield.sdk")


class StopSignal:
    """A flag set by SIGTERM (or by ``request()``); the handler does nothing else."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.installed = False

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    def install(self) -> None:
        """Installs the SIGTERM handler; only possible from the main thread (else logs and skips)."""
        if threading.current_thread() is not threading.main_thread():
            _log.warning("SIGTERM handler not installed: Run.from_env() was called outside the main thread")
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        self.installed = True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only set the flag: anything more (I/O, locks) is unsafe inside a signal handler.
        self._event.set()
