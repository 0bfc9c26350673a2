"""The trainer's supervisor process as the runner watches it: started here, or re-adopted.

Both are watched by polling rather than through asyncio's child watcher: an asyncio subprocess
transport kills its child when it is closed or collected, which would take the trainer down with
an agent that exits on purpose to leave it running (``HOUNSFIELD_DRAIN_ON_STOP=false``). Shaped like
``asyncio.subprocess.Process`` where the runner and ``TrainerStop`` use one (``pid``,
``returncode``, ``wait()``).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from hounsfield.worker.orphan_reaper import LaunchRecord
from hounsfield.worker.supervisor import ExitRecord

POLL_SECONDS = 0.2
#: The code reported when the supervisor was gone without recording one (it was SIGKILLed itself).
UNKNOWN_EXIT = -int(signal.SIGKILL)


class SpawnedProcess:
    """A supervisor this agent started (its child)."""

    def __init__(self, popen: subprocess.Popen[bytes], poll_seconds: float = POLL_SECONDS) -> None:
        self._popen = popen
        self._poll_seconds = poll_seconds

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        while (code := self._popen.poll()) is None:
            await asyncio.sleep(self._poll_seconds)
        return code


class AdoptedProcess:
    """A supervisor an earlier agent started. Not this agent's child, so nothing can ``wait()`` for
    it: its pid and start time (``launch.json``) say whether it still runs, and its ``exit.json``
    says how the trainer ended."""

    def __init__(self, record: LaunchRecord, exit_file: Path, poll_seconds: float = POLL_SECONDS) -> None:
        self._record = record
        self._exit_file = exit_file
        self._poll_seconds = poll_seconds
        self.exit_record: ExitRecord | None = None

    @property
    def pid(self) -> int:
        return self._record.pid

    @property
    def returncode(self) -> int | None:
        """None while the supervisor runs; then the recorded code (``UNKNOWN_EXIT`` if none)."""
        if self._record.alive():
            return None
        if self.exit_record is None:
            self.exit_record = ExitRecord.read(self._exit_file)
        return UNKNOWN_EXIT if self.exit_record is None else self.exit_record.returncode

    @property
    def exit_unknown(self) -> bool:
        """The supervisor is gone and left no record of how the trainer ended."""
        return self.returncode is not None and self.exit_record is None

    async def wait(self) -> int:
        while (code := self.returncode) is None:
            await asyncio.sleep(self._poll_seconds)
        return code
