"""Test harness: real nats-server, redis-server and S3 (moto) servers on free loopback ports.

The same behaviour as the TypeScript harness in ``libs/testing``: every server gets a free port, a
temporary data directory and a log file, and is stopped (SIGTERM, then SIGKILL) afterwards. Tests
never touch servers on the default ports.
"""

from harness.binaries import find_binary
from harness.ports import free_port, wait_for_port
from harness.servers import ServerHandle, start_nats_server, start_redis_server, start_s3_server

__all__ = [
    "ServerHandle",
    "find_binary",
    "free_port",
    "start_nats_server",
    "start_redis_server",
    "start_s3_server",
    "wait_for_port",
]
