"""The assignment consumer stops when cancelled, also when a NATS call swallowed the cancel.

Python 3.11's ``asyncio.wait_for`` (under nats-py's requests) can turn a cancel that races the
reply into another error. The consumer's retry loops catch errors to keep going, so without the
guard (``worker.cancellation``) the agent's shutdown waited for a loop that never ended (seen as a
180 s teardown hang of ``test_readoption`` in CI).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from hounsfield.worker.assignment_consumer import AssignmentConsumer


class SwallowingJetStream:
    """A JetStream whose first consumer lookup turns its cancel into ``error``; later calls fail at once."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.entered = asyncio.Event()
        self.swallowed = 0

    async def consumer_info(self, stream: str, durable: str) -> None:
        self.entered.set()
        if self.swallowed == 0:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.swallowed += 1
                raise self.error from None
        raise RuntimeError("nats: connection closed")


class SwallowingSubscription:
    """A pull subscription whose fetch turns its cancel into a fetch timeout, as a racing reply would."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.swallowed = 0

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        self.entered.set()
        try:
            await asyncio.sleep(3600 if self.swallowed == 0 else 0.01)
        except asyncio.CancelledError:
            self.swallowed += 1
        raise NatsTimeoutError


async def _handle(assignment: Any) -> None:
    raise AssertionError("no assignment is delivered here")


@pytest.mark.parametrize(
    "error", [RuntimeError("the reply arrived as the call was cancelled"), NatsTimeoutError()]
)
async def test_a_cancel_swallowed_by_the_consumer_lookup_still_stops_the_loop(error: Exception) -> None:
    js = SwallowingJetStream(error)
    consumer = AssignmentConsumer(cast(Any, js), "w-1", _handle)
    task = asyncio.ensure_future(consumer.run())
    await asyncio.wait_for(js.entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)  # before the guard: TimeoutError, the loop went on
    assert js.swallowed == 1


async def test_a_cancel_swallowed_by_a_fetch_still_stops_the_loop() -> None:
    subscription = SwallowingSubscription()
    consumer = AssignmentConsumer(cast(Any, object()), "w-1", _handle, fetch_timeout=0.01)
    task = asyncio.ensure_future(consumer._consume(cast(Any, subscription)))
    await asyncio.wait_for(subscription.entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert subscription.swallowed == 1
