"""Shared fixtures: servers on free loopback ports, one per test session, started on first use."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from harness import start_nats_server, start_redis_server, start_s3_server


@pytest.fixture(scope="session", autouse=True)
def _single_thread_torch() -> None:
    """Trainers and torch in tests share two cores with other suites."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def nats_server() -> Iterator[str]:
    """URL of a JetStream-enabled nats-server (never the default port 4222)."""
    server = start_nats_server()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """URL of a redis-server without persistence (never the default port 6379)."""
    server = start_redis_server()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL of a moto S3 server."""
    server = start_s3_server()
    yield server.url
    server.stop()
