"""Trainers left behind by an agent that died: found at the next start (``readoption`` re-adopts
the current ones); the others are stopped and reported here.

The agent records each trainer it launches in the attempt's directory (``launch.json``: the
root pid, which leads its own process group, and the process start time from
``/proc/<pid>/stat``, so that a recycled pid is never taken for ours) and marks the attempt
``ended`` when it saw it finish. An agent killed with SIGKILL (or OOM-killed, or crashed) leaves
attempts without that mark, and their trainers running: they hold GPUs and nothing would ever
report their end. At start, before taking work, the agent re-adopts each one that the scheduler
still counts as current (``readoption``) and stops each other one the way a cancellation does
(SIGTERM to the tree, the grace period, then SIGKILL), reporting the attempt ``failed`` with
failure kind ``infrastructure``: the scheduler requeues the job without spending a restart (or
ignores the report if it has already moved the job on).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

from hounsfield.worker import process_tree
from hounsfield.worker.attempt_status import AttemptStatus
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.report_records import AttemptIdentity

_log = logging.getLogger(__name__)

LAUNCH_RECORD = "launch.json"
ENDED_MARK = "ended"


def process_start_ticks(pid: int, proc: Path = process_tree.PROC) -> int | None:
    """The process's start time in clock ticks after boot (field 22 of its stat), or None if gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # fields 3.. (the name may contain ") ")
    return int(fields[19]) if len(fields) > 19 else None


@dataclass(frozen=True)
class LaunchRecord:
    job_id: str
    attempt: int
    worker_id: str
    pid: int
    start_ticks: int

    def write(self, attempt_dir: Path) -> None:
        temporary = attempt_dir / f".{LAUNCH_RECORD}.tmp"
        temporary.write_text(json.dumps(asdict(self)))
        temporary.replace(attempt_dir / LAUNCH_RECORD)

    @classmethod
    def of(cls, job_id: str, attempt: int, worker_id: str, pid: int) -> LaunchRecord | None:
        ticks = process_start_ticks(pid)
        return None if ticks is None else cls(job_id, attempt, worker_id, pid, ticks)

    @classmethod
    def read(cls, path: Path) -> LaunchRecord:
        raw = json.loads(path.read_text())
        return cls(
            job_id=str(raw["job_id"]),
            attempt=int(raw["attempt"]),
            worker_id=str(raw["worker_id"]),
            pid=int(raw["pid"]),
            start_ticks=int(raw["start_ticks"]),
        )

    def alive(self) -> bool:
        """True while the recorded process runs: same pid, same start time, not a zombie (an
        agent that is not the process's parent cannot reap it, and init may be slow to)."""
        return process_start_ticks(self.pid) == self.start_ticks and _exists(self.pid)


def mark_ended(attempt_dir: Path) -> None:
    if attempt_dir.is_dir():
        (attempt_dir / ENDED_MARK).touch()


def unended_launches(attempts_dir: Path) -> list[tuple[Path, LaunchRecord]]:
    """Attempts launched here whose end this agent never saw; unreadable records are logged and skipped."""
    found = []
    for path in sorted(attempts_dir.glob(f"*/attempt-*/{LAUNCH_RECORD}")):
        if (path.parent / ENDED_MARK).exists():
            continue
        try:
            found.append((path.parent, LaunchRecord.read(path)))
        except (OSError, ValueError, KeyError, TypeError) as error:
            _log.warning("skipping unreadable launch record %s: %s", path, error)
    return found


async def stop_tree(record: LaunchRecord, grace_seconds: float, poll_seconds: float = 0.1) -> bool:
    """SIGTERM to the trainer's tree, SIGKILL after the grace period; True once every process is gone."""
    if not record.alive():
        return True
    pids = process_tree.descendants([record.pid])
    process_tree.kill_groups(pids, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_seconds
    while loop.time() < deadline:
        if not any(_exists(pid) for pid in pids) and not record.alive():
            return True
        await asyncio.sleep(poll_seconds)
    pids |= process_tree.descendants([record.pid]) if record.alive() else set()
    process_tree.kill_groups(pids, signal.SIGKILL)
    for _ in range(50):
        if not any(_exists(pid) for pid in pids):
            return True
        await asyncio.sleep(poll_seconds)
    return False


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers; count it as gone when its stat says so.
    try:
        state = (process_tree.PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


async def reap_one(
    attempt_dir: Path,
    record: LaunchRecord,
    worker_id: str,
    publisher: EventPublisher,
    grace_seconds: float,
    why: str,
) -> None:
    """Stops one attempt a previous agent left (``why`` it is not re-adopted) and reports it failed."""
    was_running = record.alive()
    stopped = await stop_tree(record, grace_seconds)
    what = "its trainer was stopped" if was_running else "its trainer had already exited"
    if not stopped:
        what = f"its trainer (pid {record.pid}) could not be stopped"
    reason = (
        f"the worker agent restarted while this attempt ran and {why}; {what}; "
        "the job is requeued without spending a restart"
    )
    _log.warning("attempt %s:%d left by a previous agent: %s", record.job_id, record.attempt, reason)
    identity = AttemptIdentity(record.job_id, record.attempt, worker_id)
    await AttemptStatus(identity, publisher).publish("failed", reason=reason, failureKind="infrastructure")
    mark_ended(attempt_dir)
