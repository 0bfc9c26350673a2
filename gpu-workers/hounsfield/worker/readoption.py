"""At agent start: trainers a previous agent of this worker left are re-adopted or stopped.

Each attempt directory with a launch record and no ``ended`` mark was left by an agent that died or
exited leaving its trainers running (``HOUNSFIELD_DRAIN_ON_STOP=false``). For each, the scheduler
is asked whether the attempt is still the job's current one on this worker (it keeps a silent
worker's attempts for ``HOUNSFIELD_WORKER_RECONNECT_SECONDS``):

- current: the agent re-adopts it (``Agent.adopt``): a running trainer is followed again from where
  the reports were relayed, one that ended meanwhile has its real outcome reported from the
  supervisor's ``exit.json``;
- not current (the job was requeued, cancelled or ended): the trainer is stopped and the attempt
  reported failed, as ``orphan_reaper`` does, before this agent takes any new work.

Without an answer from the scheduler for ``HOUNSFIELD_READOPT_WAIT_SECONDS`` the attempt counts as
not current: stopping a trainer loses progress since its last checkpoint, while two trainers of
one job would write conflicting checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client
from pydantic import ValidationError

from hounsfield.contracts.models import Assignment, AttemptCurrentReply, AttemptCurrentRequest
from hounsfield.contracts.rpc import WORKER_ATTEMPT_CURRENT
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.platform.rpc import PlatformRpcError, call_worker_rpc
from hounsfield.worker.agent import Agent
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.orphan_reaper import LaunchRecord, reap_one, unended_launches

_log = logging.getLogger(__name__)


class SchedulerUnavailableError(PlatformRpcError):
    """The scheduler did not answer, refused, or answered something unreadable."""


class AttemptOwnership:
    """Asks the scheduler whether an attempt is still the job's current one on this worker."""

    def __init__(self, nc: Client, worker_id: str, *, timeout: float = 5.0) -> None:
        self._nc = nc
        self._worker_id = worker_id
        self._timeout = timeout

    async def is_current(self, job_id: str, attempt: int) -> AttemptCurrentReply:
        request = AttemptCurrentRequest.model_validate(
            {"v": SCHEMA_VERSION, "jobId": job_id, "attempt": attempt}
        )
        return await call_worker_rpc(
            self._nc,
            self._worker_id,
            WORKER_ATTEMPT_CURRENT,
            request,
            timeout=self._timeout,
            failure=SchedulerUnavailableError,
        )


@dataclass(frozen=True)
class Recovered:
    adopted: list[LaunchRecord]
    stopped: list[LaunchRecord]


async def _ask(ownership: AttemptOwnership, record: LaunchRecord, wait_seconds: float) -> AttemptCurrentReply:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    delay = 0.5
    while True:
        try:
            return await ownership.is_current(record.job_id, record.attempt)
        except SchedulerUnavailableError as error:
            if loop.time() + delay > deadline:
                return AttemptCurrentReply(
                    current=False,
                    reason=f"the scheduler did not confirm it within {wait_seconds:g} s ({error})",
                )
            _log.warning("attempt %s:%d: %s; asking again", record.job_id, record.attempt, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _assignment(attempt_dir: Path) -> Assignment | None:
    try:
        return Assignment.model_validate_json(AttemptDir(attempt_dir).assignment_file.read_text())
    except (OSError, ValidationError) as error:
        _log.warning("attempt %s: no readable assignment (%s); it cannot be re-adopted", attempt_dir, error)
        return None


async def recover_attempts(
    agent: Agent,
    ownership: AttemptOwnership,
    publisher: EventPublisher,
    *,
    attempts_dir: Path,
    wait_seconds: float,
    grace_seconds: float,
) -> Recovered:
    """Re-adopts the current attempts a previous agent left and stops the others (before new work)."""
    adopted: list[LaunchRecord] = []
    stopped: list[LaunchRecord] = []
    for attempt_dir, record in unended_launches(attempts_dir):
        if record.worker_id != agent.worker_id:
            continue
        assignment = _assignment(attempt_dir)
        reply = (
            await _ask(ownership, record, wait_seconds)
            if assignment is not None
            else AttemptCurrentReply(current=False, reason="its assignment was not recorded")
        )
        if assignment is not None and reply.current:
            agent.adopt(assignment, record)
            adopted.append(record)
            continue
        why = f"it is no longer the job's current attempt ({reply.reason})"
        await reap_one(attempt_dir, record, agent.worker_id, publisher, grace_seconds, why)
        stopped.append(record)
    return Recovered(adopted, stopped)
