"""Pulls this worker's assignments from HF_ASSIGN, one message at a time.

The scheduler creates the durable consumer ``worker-<id>`` when it first sees this worker's
heartbeat, so the agent waits (with backoff) until it exists. Every message ends in exactly one of:
``term`` (cannot be parsed, wrong schema version, addressed to another worker: never redelivered,
logged as a dead letter), ``ack`` (started, or a re-delivery of an attempt handled here) or
``nak`` with a delay (the agent could not publish ``starting``; try again later).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from hounsfield.contracts.models import Assignment
from hounsfield.contracts.subjects import SCHEMA_VERSION, STREAM_ASSIGN, worker_consumer
from hounsfield.worker.cancellation import raise_if_cancelling

_log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 5.0
NAK_DELAY_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 5.0


class RejectionCode(StrEnum):
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_ASSIGNMENT = "invalid_assignment"
    WRONG_WORKER = "wrong_worker"


class AssignmentRejectedError(ValueError):
    """A message that can never become a valid assignment for this worker (it is terminated)."""

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code


#: The job-spec union's members, as pydantic names them in error locations.
_SPEC_KINDS = {
    "EvaluationShardJobSpec": ("evaluation_shard",),
    "CheckpointImportJobSpec": ("checkpoint_import",),
}


def _issues_of_own_kind(issues: list[ErrorDetails], data: bytes) -> list[ErrorDetails]:
    """A spec is a union over its kind: keep the issues of the member the message's kind selects,
    named without the member (``spec.monitoring``, not ``spec.TrainingJobSpec.monitoring``)."""
    try:
        spec = json.loads(data).get("spec", {})
        kind = spec.get("kind") if isinstance(spec, dict) else None
    except (ValueError, AttributeError):
        return issues
    own = next((name for name, kinds in _SPEC_KINDS.items() if kind in kinds), "TrainingJobSpec")
    kept: list[ErrorDetails] = []
    for issue in issues:
        loc = issue["loc"]
        if len(loc) > 1 and loc[0] == "spec" and isinstance(loc[1], str) and loc[1].endswith("JobSpec"):
            if loc[1] != own:
                continue
            issue = {**issue, "loc": (loc[0], *loc[2:])}
        kept.append(issue)
    return kept or issues


def parse_assignment(data: bytes, worker_id: str) -> Assignment:
    """Validates one message against the contract; raises AssignmentRejectedError with a short reason."""
    try:
        assignment = Assignment.model_validate_json(data)
    except ValidationError as error:
        issues = error.errors()
        version = next((i for i in issues if i["loc"] and i["loc"][0] == "v"), None)
        if version is not None:
            raise AssignmentRejectedError(
                RejectionCode.UNSUPPORTED_VERSION,
                f"unsupported schema version {version.get('input')!r} (this worker reads v{SCHEMA_VERSION})",
            ) from error
        issues = _issues_of_own_kind(issues, data)
        described = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'message'}: {issue['msg']}"
            for issue in issues[:3]
        )
        more = f" (+{len(issues) - 3} more)" if len(issues) > 3 else ""
        raise AssignmentRejectedError(RejectionCode.INVALID_ASSIGNMENT, f"{described}{more}") from error
    if assignment.workerId != worker_id:
        raise AssignmentRejectedError(
            RejectionCode.WRONG_WORKER, f"addressed to worker {assignment.workerId!r}, this is {worker_id!r}"
        )
    return assignment


class AssignmentConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        worker_id: str,
        handle: Callable[[Assignment], Awaitable[None]],
        *,
        fetch_timeout: float = FETCH_TIMEOUT_SECONDS,
        on_rejected: Callable[[bytes, AssignmentRejectedError], Awaitable[None]] | None = None,
    ) -> None:
        self._on_rejected = on_rejected
        self._js = js
        self._worker_id = worker_id
        self._handle = handle
        self._fetch_timeout = fetch_timeout
        self._durable = worker_consumer(worker_id)

    async def _wait_for_consumer(self) -> None:
        delay, announced = 0.2, False
        while True:
            try:
                await self._js.consumer_info(STREAM_ASSIGN, self._durable)
                _log.info("bound to consumer %s on %s", self._durable, STREAM_ASSIGN)
                return
            except NotFoundError as error:
                raise_if_cancelling(error)
                if not announced:
                    _log.info(
                        "waiting for the scheduler to create consumer %s on %s", self._durable, STREAM_ASSIGN
                    )
                    announced = True
            except Exception as error:  # disconnected, timeouts: keep trying
                raise_if_cancelling(error)
                _log.warning("cannot look up consumer %s: %s", self._durable, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def run(self) -> None:
        """Consumes until cancelled. Never raises on a bad message or a lost connection."""
        while True:
            await self._wait_for_consumer()
            try:
                subscription = await self._js.pull_subscribe_bind(durable=self._durable, stream=STREAM_ASSIGN)
            except Exception as error:  # disconnected between the lookup and the bind
                raise_if_cancelling(error)
                _log.warning("cannot bind to consumer %s: %s", self._durable, error)
                await asyncio.sleep(MAX_BACKOFF_SECONDS)
                continue
            try:
                await self._consume(subscription)
            finally:
                try:
                    await subscription.unsubscribe()
                except Exception as error:
                    _log.debug("unsubscribe: %s", error)

    async def _consume(self, subscription: JetStreamContext.PullSubscription) -> None:
        failures = 0
        while True:
            try:
                messages = await subscription.fetch(1, timeout=self._fetch_timeout)
                failures = 0
            except NatsTimeoutError as error:
                raise_if_cancelling(error)
                continue  # nothing to do
            except Exception as error:
                raise_if_cancelling(error)
                failures += 1
                _log.warning("fetching assignments failed: %s", error)
                if failures >= 3:
                    return  # look the consumer up again (it may have been deleted and recreated)
                await asyncio.sleep(min(0.5 * failures, MAX_BACKOFF_SECONDS))
                continue
            for message in messages:
                # Shielded: once an attempt may have started, its message must still be acked even
                # if the agent is shutting down, or a restarted agent would run it a second time.
                disposal = asyncio.ensure_future(self._dispose(message))
                try:
                    await asyncio.shield(disposal)
                except asyncio.CancelledError:
                    await disposal
                    raise

    async def _dispose(self, message: Msg) -> None:
        try:
            assignment = parse_assignment(message.data, self._worker_id)
        except AssignmentRejectedError as error:
            _log.warning("dead letter on %s (terminated): %s", message.subject, error)
            if self._on_rejected is not None:
                try:
                    await self._on_rejected(message.data, error)
                except Exception as report_error:
                    _log.warning("could not report the rejected assignment: %s", report_error)
            await _settle(message.term(), "term")
            return
        try:
            await self._handle(assignment)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception(
                "assignment %s not started; redelivery in %.0f s", assignment.assignmentId, NAK_DELAY_SECONDS
            )
            await _settle(message.nak(delay=NAK_DELAY_SECONDS), "nak")
            return
        await _settle(message.ack(), "ack")


async def _settle(action: Awaitable[None], what: str) -> None:
    # A lost ack only means a redelivery, which the agent recognises and acks again.
    try:
        await action
    except Exception as error:
        _log.warning("%s failed: %s", what, error)
