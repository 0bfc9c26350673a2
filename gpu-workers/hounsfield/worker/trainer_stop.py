"""Stopping a running trainer: SIGTERM to its ranks, SIGKILL to its whole tree after a grace period.

The tree is supervisor → launcher (torchrun) → ranks (see ``supervisor``).

The ranks are signalled directly rather than through torchrun: a rank that checkpoints and exits 0
then lets torchrun finish normally (exit 0), which it would not do after a SIGTERM of its own.
Before any rank exists, the launcher's process group gets the SIGTERM instead (the supervisor in
it ignores SIGTERM and records how the launcher ended). SIGKILL goes
to the process group of every process in the tree, since torchrun starts each rank in a new session
and killing the launcher's group alone would leave the ranks running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Protocol

from hounsfield.worker import process_tree

_log = logging.getLogger(__name__)


class TrainerProcess(Protocol):
    """A started trainer (``asyncio.subprocess.Process``) or a re-adopted one (``AdoptedProcess``)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class TrainerStop:
    """One stop of one trainer process tree; ``killed`` tells whether the grace period ran out."""

    def __init__(self, process: TrainerProcess, grace_seconds: float, label: str) -> None:
        self._process = process
        self.grace_seconds = grace_seconds
        self._label = label
        self._known_pids: set[int] = set()
        self._timer: asyncio.Task[None] | None = None
        self.killed = False

    def begin(self) -> None:
        """Sends SIGTERM now and arms the SIGKILL timer."""
        root = self._process.pid
        parents = process_tree.parent_map()
        # Remembered: once the launcher dies its ranks are reparented and no longer found below it.
        self._known_pids = process_tree.descendants([root], parents)
        launchers = process_tree.children(root, parents)
        ranks = [rank for launcher in launchers for rank in process_tree.children(launcher, parents)]
        _log.info(
            "%s: SIGTERM to %s (grace %.1f s)",
            self._label,
            f"ranks {ranks}" if ranks else f"process group {root}",
            self.grace_seconds,
        )
        if ranks:
            for rank in ranks:
                process_tree.signal_process(rank, signal.SIGTERM)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(root, signal.SIGTERM)
        self._timer = asyncio.create_task(self._kill_after_grace())

    async def _kill_after_grace(self) -> None:
        await asyncio.sleep(self.grace_seconds)
        if self._process.returncode is None:
            self.killed = True
            _log.warning("%s did not stop within %.1f s of SIGTERM", self._label, self.grace_seconds)
            self.kill_now()

    def kill_now(self) -> None:
        """SIGKILL to every process of the tree (also used when the agent itself fails)."""
        if self._process.returncode is not None:
            return
        pids = process_tree.descendants([self._process.pid]) | self._known_pids
        _log.warning("%s: SIGKILL to %d process(es)", self._label, len(pids))
        process_tree.kill_groups(pids, signal.SIGKILL)

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
