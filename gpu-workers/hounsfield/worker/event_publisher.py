"""Publishing the agent's messages to the HF_EVENTS JetStream stream, each with a de-duplication id.

Message ids (``Nats-Msg-Id``): heartbeats ``<worker>:hb:<seq>``, status
``<job>:<attempt>:<worker>:<state>`` (the nodes of a multi-node attempt each report theirs),
progress ``<job>:<attempt>:p:<seq>``, notices ``<job>:<attempt>:n:<seq>``, environment builds
``<build id>:<outcome>``. Because of them a publish
can be retried safely: the stream keeps one copy within its duplicate window.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from nats.js.client import JetStreamContext
from pydantic import BaseModel

from hounsfield.contracts.models import (
    EnvironmentEvent,
    JobNoticeEvent,
    ProgressEvent,
    StatusEvent,
    WorkerHeartbeat,
)
from hounsfield.contracts.subjects import (
    STREAM_EVENTS,
    job_environment_subject,
    job_notice_subject,
    job_progress_subject,
    job_status_subject,
    worker_heartbeat_subject,
)
from hounsfield.worker.cancellation import raise_if_cancelling

_log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


def status_msg_id(event: StatusEvent) -> str:
    return f"{event.jobId}:{event.attempt}:{event.workerId}:{event.state}"


def progress_msg_id(event: ProgressEvent) -> str:
    return f"{event.jobId}:{event.attempt}:p:{event.seq}"


def notice_msg_id(event: JobNoticeEvent, seq: int) -> str:
    return f"{event.jobId}:{event.attempt}:n:{seq}"


def heartbeat_msg_id(worker_id: str, seq: int) -> str:
    return f"{worker_id}:hb:{seq}"


class EventPublisher(Protocol):
    async def status(self, event: StatusEvent) -> None: ...

    async def progress(self, event: ProgressEvent) -> None: ...

    async def notice(self, event: JobNoticeEvent, seq: int) -> None: ...

    async def heartbeat(self, heartbeat: WorkerHeartbeat, seq: int) -> str | None: ...

    async def environment(self, event: EnvironmentEvent) -> None: ...


class JetStreamEventPublisher:
    """Lifecycle and progress events are retried until stored (or ``retry_seconds`` pass);
    a heartbeat is tried once, since a late one is worth nothing."""

    def __init__(self, js: JetStreamContext, *, timeout: float = 5.0, retry_seconds: float = 300.0) -> None:
        self._js = js
        self._timeout = timeout
        self._retry_seconds = retry_seconds

    async def _publish_once(self, subject: str, message: BaseModel, msg_id: str) -> None:
        await self._js.publish(
            subject,
            message.model_dump_json(exclude_none=True).encode(),
            timeout=self._timeout,
            stream=STREAM_EVENTS,
            headers={MSG_ID_HEADER: msg_id},
        )

    async def _publish_retrying(self, subject: str, message: BaseModel, msg_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_seconds
        delay = 0.2
        while True:
            try:
                await self._publish_once(subject, message, msg_id)
                return
            except Exception as error:  # timeouts, no responders while reconnecting, stream missing
                raise_if_cancelling(error)
                if loop.time() + delay > deadline:
                    _log.error("giving up publishing %s (%s): %s", msg_id, subject, error)
                    raise
                _log.warning("publishing %s failed (%s); retrying in %.1f s", msg_id, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def status(self, event: StatusEvent) -> None:
        await self._publish_retrying(job_status_subject(event.jobId), event, status_msg_id(event))

    async def progress(self, event: ProgressEvent) -> None:
        await self._publish_retrying(job_progress_subject(event.jobId), event, progress_msg_id(event))

    async def notice(self, event: JobNoticeEvent, seq: int) -> None:
        await self._publish_retrying(job_notice_subject(event.jobId), event, notice_msg_id(event, seq))

    async def environment(self, event: EnvironmentEvent) -> None:
        msg_id = f"{event.buildId}:{event.outcome}"
        await self._publish_retrying(job_environment_subject(event.jobId), event, msg_id)

    async def heartbeat(self, heartbeat: WorkerHeartbeat, seq: int) -> str | None:
        """None when stored, else why not (the heartbeat loop decides how loudly to say so)."""
        try:
            await self._publish_once(
                worker_heartbeat_subject(heartbeat.workerId),
                heartbeat,
                heartbeat_msg_id(heartbeat.workerId, seq),
            )
            return None
        except Exception as error:
            return str(error) or type(error).__name__
