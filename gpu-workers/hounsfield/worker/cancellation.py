"""Loops that outlive their cancel: the guard every retry loop of the agent uses.

A retry loop catches ``Exception`` so that one failed round (NATS or the store unavailable) never
ends it; it lets ``asyncio.CancelledError`` through so that it can be stopped. Python 3.11's
``asyncio.wait_for`` (under nats-py's requests) can swallow a cancel that races the awaited reply
and return or raise something else instead, and the loop would then run on after its stop, with
whoever awaits it (an attempt reporting its end, an agent shutting down) waiting for good.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelling(error: BaseException) -> None:
    """Re-raises a cancel that came back as ``error`` (the current task was asked to stop)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
