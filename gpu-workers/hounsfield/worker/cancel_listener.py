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

import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from hounsfield.contracts.models import WorkerCancelReply, WorkerCancelRequest
from hounsfield.contracts.rpc import WORKER_SERVED_CANCEL
from hounsfield.worker.agent import Agent

_log = logging.getLogger(__name__)


class CancelListener:
    def __init__(self, nc: Client, agent: Agent) -> None:
        self._nc = nc
        self._agent = agent
        self._subscription: Subscription | None = None

    @property
    def subject(self) -> str:
        return WORKER_SERVED_CANCEL.subject(self._agent.worker_id)

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(self.subject, cb=self._on_request)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_request(self, message: Msg) -> None:
        try:
            request = WorkerCancelRequest.model_validate_json(message.data)
        except ValidationError as error:
            issue = error.errors()[0]
            where = ".".join(str(part) for part in issue["loc"]) or "request"
            await self._reply(message, {"ok": False, "error": f"{where}: {issue['msg']}"})
            return
        outcome = self._agent.request_cancel(request.jobId, request.attempt, request.graceSeconds)
        _log.info("cancel %s:%d → %s", request.jobId, request.attempt, outcome)
        await self._reply(message, {"ok": True, "state": outcome.value})

    async def _reply(self, message: Msg, body: dict[str, object]) -> None:
        if not message.reply:
            return  # published without a reply subject: nobody is waiting
        try:
            # The reply the contract promises (WORKER_SERVED_RPCS.cancel), checked before it leaves.
            await message.respond(WorkerCancelReply.model_validate(body).model_dump_json().encode())
        except Exception as error:
            _log.warning("cannot reply to a cancel request: %s", error)
