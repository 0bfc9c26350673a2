"""The harness fixtures start real servers on free ports (never the default ones)."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlparse

import pytest


@pytest.mark.timeout(120)
def test_servers_answer_on_their_own_ports(nats_server: str, redis_server: str, s3_server: str) -> None:
    assert urlparse(nats_server).port != 4222 and urlparse(redis_server).port != 6379

    with socket.create_connection(("127.0.0.1", urlparse(nats_server).port or 0), timeout=5) as nats:
        assert nats.recv(4096).startswith(b"INFO ")
    with socket.create_connection(("127.0.0.1", urlparse(redis_server).port or 0), timeout=5) as redis:
        redis.sendall(b"PING\r\n")
        assert redis.recv(64) == b"+PONG\r\n"
    with urllib.request.urlopen(s3_server, timeout=10) as response:
        assert response.status == 200 and b"ListAllMyBucketsResult" in response.read()
