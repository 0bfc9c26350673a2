"""Status events of one attempt (``StatusEvent``), built and published in one place."""

from __future__ import annotations

import logging
from typing import Any, Literal

from hounsfield.contracts.models import StatusEvent
from hounsfield.sdk.report_format import utc_timestamp
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.report_records import AttemptIdentity

_log = logging.getLogger(__name__)

StatusState = Literal["starting", "running", "succeeded", "failed", "cancelled", "preempted"]
#: Whose failure it was: the scheduler retries ``trainer`` failures while restarts remain, fails
#: ``preflight`` failures at once, requeues ``infrastructure`` failures without spending one, and
#: retries ``oom`` with a smaller per-device batch (see ``StatusEvent.failureKind``).
FailureKind = Literal["trainer", "preflight", "infrastructure", "oom", "environment"]
MAX_REASON_CHARS = 4096


class AttemptStatus:
    def __init__(self, identity: AttemptIdentity, publisher: EventPublisher) -> None:
        self._identity = identity
        self._publisher = publisher

    def event(self, state: StatusState, **fields: Any) -> StatusEvent:
        """A StatusEvent for this attempt; fields that are None are left out."""
        reason = fields.get("reason")
        if isinstance(reason, str):
            fields["reason"] = reason[:MAX_REASON_CHARS]
        return StatusEvent(
            v=1,  # the generated Literal checks this against SCHEMA_VERSION
            type="status",
            jobId=self._identity.job_id,
            attempt=self._identity.attempt,
            workerId=self._identity.worker_id,
            state=state,
            at=utc_timestamp(),
            **{name: value for name, value in fields.items() if value is not None},
        )

    async def publish(self, state: StatusState, **fields: Any) -> None:
        """Publishes (with the publisher's retries); raises when the event could not be stored."""
        await self._publisher.status(self.event(state, **fields))

    async def publish_final(
        self,
        state: StatusState,
        *,
        exit_code: int | None = None,
        reason: str | None = None,
        log_tail: list[str] | None = None,
        failure_kind: FailureKind | None = None,
    ) -> None:
        """The terminal event. Never raises: if it cannot be stored the attempt still ends, and the
        scheduler notices it is gone from the heartbeats' ``running`` list."""
        job, attempt = self._identity.job_id, self._identity.attempt
        _log.info("attempt %s:%d %s%s", job, attempt, state, f": {reason}" if reason else "")
        try:
            await self.publish(
                state, exitCode=exit_code, reason=reason, logTail=log_tail, failureKind=failure_kind
            )
        except Exception:
            _log.exception("attempt %s:%d: %s status was not published", job, attempt, state)
