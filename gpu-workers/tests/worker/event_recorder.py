"""Collects the events a job or worker publishes, parsed into the contract models, in arrival order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hounsfield.contracts.models import ProgressEvent, StatusEvent, WorkerHeartbeat

Event = StatusEvent | ProgressEvent | WorkerHeartbeat


def parse_event(data: bytes) -> Event:
    kind = json.loads(data)["type"]
    model: Any = {"status": StatusEvent, "progress": ProgressEvent, "heartbeat": WorkerHeartbeat}[kind]
    return model.model_validate_json(data)  # type: ignore[no-any-return]


@dataclass
class EventRecorder:
    events: list[Event] = field(default_factory=list)
    msg_ids: list[str] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _subscription: Subscription | None = None

    @classmethod
    async def subscribe(cls, nc: Client, subject: str) -> EventRecorder:
        recorder = cls()
        recorder._subscription = await nc.subscribe(subject, cb=recorder._on_message)
        await nc.flush()
        return recorder

    async def _on_message(self, message: Msg) -> None:
        async with self._changed:
            self.events.append(parse_event(message.data))
            self.msg_ids.append((message.headers or {}).get("Nats-Msg-Id", ""))
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 60.0) -> list[Event]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.events)), timeout)
            return list(self.events)

    async def wait_for_state(self, *states: str, timeout: float = 60.0) -> StatusEvent:
        events = await self.wait_for(lambda evs: any(_is_state(e, states) for e in evs), timeout)
        return next(e for e in events if isinstance(e, StatusEvent) and e.state in states)

    def statuses(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, StatusEvent)]

    def progress(self) -> list[ProgressEvent]:
        return [e for e in self.events if isinstance(e, ProgressEvent)]

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()


def _is_state(event: Event, states: tuple[str, ...]) -> bool:
    return isinstance(event, StatusEvent) and event.state in states
