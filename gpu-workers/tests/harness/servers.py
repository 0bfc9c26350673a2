"""Starting and stopping the servers the medium tests use."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.binaries import find_binary
from harness.ports import free_port, wait_for_port


@dataclass
class ServerHandle:
    kind: str
    url: str
    port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM, SIGKILL after the grace period, then the data directory is removed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _start(
    kind: str,
    command: list[str] | Callable[[int, Path], list[str]],
    url: Callable[[int], str],
    start_timeout: float,
) -> ServerHandle:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"hf-{kind}-"))
    log_path = data_dir / f"{kind}.log"
    argv = command(port, data_dir) if callable(command) else command
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle = ServerHandle(kind, url(port), port, data_dir, log_path, process)
    try:
        wait_for_port(port, start_timeout, kind, process)
    except Exception as error:
        tail = log_path.read_text(errors="replace")[-2000:]
        handle.stop(grace_seconds=1.0)
        raise RuntimeError(f"{error}; {kind} log:\n{tail}") from error
    return handle


def start_nats_server(start_timeout: float = 20.0) -> ServerHandle:
    """nats-server with JetStream (HOUNSFIELD_NATS_SERVER overrides the binary)."""
    binary = find_binary("nats-server", "HOUNSFIELD_NATS_SERVER")
    return _start(
        "nats",
        lambda port, data: [
            binary,
            "-js",
            "-sd",
            str(data / "jetstream"),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        lambda port: f"nats://127.0.0.1:{port}",
        start_timeout,
    )


def start_redis_server(start_timeout: float = 20.0) -> ServerHandle:
    """redis-server without persistence (HOUNSFIELD_REDIS_SERVER overrides the binary)."""
    binary = find_binary("redis-server", "HOUNSFIELD_REDIS_SERVER")
    return _start(
        "redis",
        lambda port, data: [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
        ],
        lambda port: f"redis://127.0.0.1:{port}",
        start_timeout,
    )


def start_s3_server(start_timeout: float = 60.0) -> ServerHandle:
    """moto's S3-compatible server (HOUNSFIELD_MOTO_SERVER overrides the binary)."""
    binary = find_binary("moto_server", "HOUNSFIELD_MOTO_SERVER")
    return _start(
        "s3",
        lambda port, data: [binary, "-H", "127.0.0.1", "-p", str(port)],
        lambda port: f"http://127.0.0.1:{port}",
        start_timeout,
    )
