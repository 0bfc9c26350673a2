"""``python -m hounsfield.worker.supervisor EXIT_FILE -- COMMAND...``: keeps a trainer's exit status.

The agent starts each trainer through this small process, in a session of its own. It runs the
launcher (torchrun) as its child, waits for it and writes how it ended into the attempt directory
(``exit.json``, atomically), then exits the same way. Because it is neither the agent nor a child
the agent must reap, it outlives an agent that is killed or restarted: the next agent learns the
trainer's real outcome from the file even if the trainer ended while no agent was running.

It ignores SIGTERM and SIGINT itself (the launcher in the same process group receives them and
stops the ranks), so a stop sent to the group never loses the status. Only SIGKILL of this process
leaves no file; the agent then reports the end as unknown (an infrastructure failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

EXIT_FILE = "exit.json"


@dataclass(frozen=True)
class ExitRecord:
    """How the trainer ended: ``returncode`` as asyncio reports it (negative: killed by that signal)."""

    returncode: int
    ended_at: str

    def write(self, path: Path) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps({"returncode": self.returncode, "endedAt": self.ended_at}))
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> ExitRecord | None:
        """The record, or None while the trainer runs (or if the supervisor was killed first)."""
        try:
            raw = json.loads(path.read_text())
            return cls(returncode=int(raw["returncode"]), ended_at=str(raw["endedAt"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None


def supervised_command(python: str, exit_file: Path, command: list[str]) -> list[str]:
    """``command`` run under this supervisor, its end recorded in ``exit_file``."""
    return [python, "-m", "hounsfield.worker.supervisor", str(exit_file), "--", *command]


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """A handler, not SIG_IGN: handlers are reset at exec, so the launcher still gets the default."""


def supervise(exit_file: Path, command: list[str]) -> int:
    """Runs ``command``, records its end in ``exit_file`` and returns its asyncio-style returncode."""
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    child = subprocess.Popen(command)  # inherits stdout/stderr (the attempt's launcher.log) and the group
    while True:
        try:
            returncode = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
    ExitRecord(returncode, datetime.now(UTC).isoformat().replace("+00:00", "Z")).write(exit_file)
    return returncode


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        raise SystemExit("usage: python -m hounsfield.worker.supervisor EXIT_FILE -- COMMAND...")
    returncode = supervise(Path(args[0]), args[2:])
    if returncode < 0:
        # Ends the way the trainer did, so a watching agent sees the same signal.
        with contextlib.suppress(OSError, ValueError):  # SIGKILL's disposition cannot be changed
            signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    sys.exit(returncode)


if __name__ == "__main__":
    main()
