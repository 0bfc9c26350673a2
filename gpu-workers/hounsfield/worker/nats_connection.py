"""Connecting to NATS, waiting for the server when it is not up yet (services may start in any order)."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client

_log = logging.getLogger(__name__)


async def _on_error(error: Exception) -> None:
    _log.warning("NATS: %s", error)


async def _on_disconnected() -> None:
    _log.warning("NATS disconnected")


async def _on_reconnected() -> None:
    _log.info("NATS reconnected")


async def connect_nats(url: str, name: str, *, max_backoff_seconds: float = 5.0) -> Client:
    """Connects, retrying with backoff until it works; later disconnects reconnect forever."""
    delay = 0.2
    while True:
        try:
            client = await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=5,
                error_cb=_on_error,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
            )
            _log.info("connected to NATS at %s", url)
            return client
        except Exception as error:  # no servers, refused, timeouts
            _log.warning("cannot connect to NATS at %s (%s); retrying in %.1f s", url, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_seconds)
