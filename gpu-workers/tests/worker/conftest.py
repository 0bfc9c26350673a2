"""Fixtures for agent tests: a NATS client with the topology, and agents started per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from hounsfield.worker.app import WorkerApp
from worker.agents import StartAgent, agent_settings
from worker.topology import ensure_worker_consumer, provision_streams


@pytest.fixture
async def nc(nats_server: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server)
    await provision_streams(client.jetstream())
    yield client
    await client.drain()


@pytest.fixture
def worker_id() -> str:
    return f"w-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def start_agent(
    nats_server: str, nc: Client, worker_id: str, tmp_path: Path
) -> AsyncIterator[StartAgent]:
    """Starts the agent after creating its consumer, as the scheduler would on its first heartbeat."""
    apps: list[WorkerApp] = []

    async def start(**overrides: Any) -> WorkerApp:
        await ensure_worker_consumer(nc.jetstream(), worker_id)
        app = await WorkerApp.start(agent_settings(nats_server, worker_id, tmp_path / "work", **overrides))
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.close(grace_seconds=2.0)
