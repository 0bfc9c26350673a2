"""Core-NATS request subject on which the scheduler cancels an attempt: ``hf.worker.<id>.cancel``.

Request: ``{"jobId": "j1", "attempt": 1, "graceSeconds": 30}`` (graceSeconds optional; default
HOUNSFIELD_STOP_GRACE_SECONDS). The reply comes as soon as the SIGTERM is sent, not when the trainer
has exited (the ``cancelled`` status event says that):

* ``{"ok": true, "state": "stopping"}``: SIGTERM sent; SIGKILL follows after the grace period;
* ``{"ok": true, "state": "finished"}``: the attempt already ended here (its status was published);
* ``{"ok": true, "state": "not_started"}``: this worker has not seen the attempt; if its
  assignment arrives later it is acked and reported ``cancelled`` without starting;
* ``{"ok": false, "error": "..."}``: the request was not valid JSON or not a cancel request.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hounsfield.worker.agent import Agent
from hounsfield.worker.settings import IDENTIFIER

_log = logging.getLogger(__name__)


def worker_cancel_subject(worker_id: str) -> str:
    """Mirrors ``workerCancelSubject`` in libs/contracts/src/subjects.ts (not yet in the generated module)."""
    return f"hf.worker.{worker_id}.cancel"


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: Annotated[str, Field(alias="jobId", min_length=1, max_length=64, pattern=IDENTIFIER.pattern)]
    attempt: Annotated[int, Field(ge=1)]
    grace_seconds: Annotated[float | None, Field(alias="graceSeconds", ge=0, le=3600)] = None


class CancelListener:
    def __init__(self, nc: Client, agent: Agent) -> None:
        self._nc = nc
        self._agent = agent
        self._subscription: Subscription | None = None

    @property
    def subject(self) -> str:
        return worker_cancel_subject(self._agent.worker_id)

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(self.subject, cb=self._on_request)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_request(self, message: Msg) -> None:
        try:
            request = CancelRequest.model_validate_json(message.data)
        except ValidationError as error:
            issue = error.errors()[0]
            where = ".".join(str(part) for part in issue["loc"]) or "request"
            await self._reply(message, {"ok": False, "error": f"{where}: {issue['msg']}"})
            return
        outcome = self._agent.request_cancel(request.job_id, request.attempt, request.grace_seconds)
        _log.info("cancel %s:%d → %s", request.job_id, request.attempt, outcome)
        await self._reply(message, {"ok": True, "state": outcome.value})

    async def _reply(self, message: Msg, body: dict[str, object]) -> None:
        if not message.reply:
            return  # published without a reply subject: nobody is waiting
        try:
            await message.respond(json.dumps(body).encode())
        except Exception as error:
            _log.warning("cannot reply to a cancel request: %s", error)
