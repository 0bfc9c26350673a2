"""The real checkpoints service (services/checkpoints, Node) on the session's NATS, Redis and store."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from harness import free_port, wait_for_port
from nats.aio.client import Client

from hounsfield.platform.checkpoint_client import CheckpointClient

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class CheckpointsService:
    driver: str
    #: The fs store's root (fs driver), where tests can reach stored parts directly.
    root: Path | None


def _start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    node = shutil.which("node")
    if node is None:
        pytest.skip("skipped: node is not installed, so the checkpoints service cannot run")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [node, "-r", "@swc-node/register", "services/checkpoints/src/main.ts"],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                **env,
                "HOUNSFIELD_CHECKPOINTS_PORT": str(port),
                "HOUNSFIELD_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
                "HOUNSFIELD_CHECKPOINT_PART_MIB": "1",
                "HOUNSFIELD_LOG_LEVEL": "warn",
                "SWC_NODE_PROJECT": str(REPO_ROOT / "tsconfig.base.json"),
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, 90, "checkpoints service", process)
    except Exception as error:
        process.kill()
        raise RuntimeError(f"{error}; log:\n{log.read_text(errors='replace')[-3000:]}") from error
    return process


@pytest.fixture(scope="session", params=["fs", "s3"])
def checkpoints_service(
    request: pytest.FixtureRequest, nats_server: str, redis_server: str
) -> Iterator[CheckpointsService]:
    base = Path(tempfile.mkdtemp(prefix="hf-ckpt-service-"))
    env = {"HOUNSFIELD_NATS_URL": nats_server, "HOUNSFIELD_REDIS_URL": redis_server}
    root: Path | None = None
    if request.param == "fs":
        root = base / "objects"
        env |= {"HOUNSFIELD_STORAGE_DRIVER": "fs", "HOUNSFIELD_STORAGE_ROOT": str(root)}
    else:
        s3_url = request.getfixturevalue("s3_server")
        env |= {
            "HOUNSFIELD_STORAGE_DRIVER": "s3",
            "HOUNSFIELD_S3_ENDPOINT": s3_url,
            "HOUNSFIELD_S3_BUCKET": f"ckpt-{uuid.uuid4().hex[:8]}",
            "HOUNSFIELD_S3_ACCESS_KEY": "test",
            "HOUNSFIELD_S3_SECRET_KEY": "test",
        }
    process = _start_service(env, base / "service.log")
    yield CheckpointsService(request.param, root)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def checkpoint_client(
    checkpoints_service: CheckpointsService, nats_server: str
) -> AsyncIterator[CheckpointClient]:
    client: Client = await nats.connect(nats_server)
    yield CheckpointClient(client, "test-worker")
    await client.drain()
