"""Connecting to NATS, waiting for the server when it is not up yet (services may start in any order).

With authentication on, every worker has its own NATS user (``HOUNSFIELD_NATS_USER`` /
``HOUNSFIELD_NATS_PASSWORD``) whose permissions allow its own subjects only; replies come to its
own inbox prefix (``_INBOX.<user>``), the only inboxes it may read. The agent hands the same
credentials to the built-in tasks it runs (evaluation shards, checkpoint imports), never to a
user's trainer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client

from hounsfield.contracts.subjects import inbox_prefix

_log = logging.getLogger(__name__)

ENV_NATS_URL = "HOUNSFIELD_NATS_URL"
ENV_NATS_USER = "HOUNSFIELD_NATS_USER"
ENV_NATS_PASSWORD = "HOUNSFIELD_NATS_PASSWORD"
DEFAULT_NATS_URL = "nats://127.0.0.1:14222"


@dataclass(frozen=True)
class NatsAccess:
    """Where and as whom to connect; without a user the server must allow anonymous clients."""

    url: str = DEFAULT_NATS_URL
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NatsAccess:
        env = os.environ if environ is None else environ
        return cls(
            env.get(ENV_NATS_URL) or DEFAULT_NATS_URL,
            env.get(ENV_NATS_USER) or None,
            env.get(ENV_NATS_PASSWORD) or None,
        )

    def connect_options(self) -> dict[str, str]:
        """The credentials and inbox prefix for ``nats.connect``."""
        if self.user is None:
            return {}
        return {"user": self.user, "password": self.password or "", "inbox_prefix": inbox_prefix(self.user)}

    def env(self) -> dict[str, str]:
        """The variables that hand this access to a built-in task's process."""
        variables = {ENV_NATS_URL: self.url}
        if self.user is not None:
            variables[ENV_NATS_USER] = self.user
        if self.password is not None:
            variables[ENV_NATS_PASSWORD] = self.password
        return variables


async def _on_error(error: Exception) -> None:
    _log.warning("NATS: %s", error)


async def _on_disconnected() -> None:
    _log.warning("NATS disconnected")


async def _on_reconnected() -> None:
    _log.info("NATS reconnected")


async def connect_nats(access: NatsAccess, name: str, *, max_backoff_seconds: float = 5.0) -> Client:
    """Connects, retrying with backoff until it works; later disconnects reconnect forever.

    A refused login is retried too: a new worker's user may reach the server's configuration
    moments after the worker starts.
    """
    delay = 0.2
    while True:
        try:
            client = await nats.connect(
                access.url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=5,
                error_cb=_on_error,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
                **access.connect_options(),
            )
            _log.info("connected to NATS at %s%s", access.url, f" as {access.user}" if access.user else "")
            return client
        except Exception as error:  # no servers, refused, timeouts, authorization
            _log.warning("cannot connect to NATS at %s (%s); retrying in %.1f s", access.url, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_seconds)
