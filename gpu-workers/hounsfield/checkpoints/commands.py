"""``python -m hounsfield.cli checkpoint …``: operators upload and download checkpoints over NATS.

Users import, list and download checkpoints with the ``hounsfield`` command (clients/python),
over the gateway's HTTP API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checkpoint = subcommands.add_parser("checkpoint", help="upload and download checkpoints over NATS")
    actions = checkpoint.add_subparsers(dest="action", required=True)

    upload = actions.add_parser(
        "upload",
        help="upload and commit a checkpoint directory over NATS (operators; as a worker: "
        "HOUNSFIELD_WORKER_ID with its HOUNSFIELD_NATS_USER / HOUNSFIELD_NATS_PASSWORD)",
    )
    upload.add_argument("directory", type=Path)
    upload.add_argument("--job", required=True, help="the job the checkpoint belongs to")
    upload.add_argument("--attempt", type=int, default=1)
    upload.add_argument("--keep-last", type=int, default=3, help="retention applied after the commit")
    upload.add_argument("--nats", default=os.environ.get("HOUNSFIELD_NATS_URL", "nats://127.0.0.1:14222"))
    upload.add_argument(
        "--worker", default=os.environ.get("HOUNSFIELD_WORKER_ID"), help="the worker to act as"
    )
    upload.set_defaults(handler=_upload)

    download = actions.add_parser(
        "download", help="download and verify a checkpoint (id or <job>:<ref>) over NATS"
    )
    download.add_argument("ref", help="ck-… or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>")
    download.add_argument("--out", type=Path, required=True, help="directory to create <checkpoint id>/ in")
    download.add_argument("--nats", default=os.environ.get("HOUNSFIELD_NATS_URL", "nats://127.0.0.1:14222"))
    download.add_argument(
        "--worker", default=os.environ.get("HOUNSFIELD_WORKER_ID"), help="the worker to act as"
    )
    download.set_defaults(handler=_download)


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _upload(args: argparse.Namespace) -> int:
    from hounsfield.contracts.models import Retention  # noqa: PLC0415
    from hounsfield.platform.checkpoint_upload import upload_checkpoint  # noqa: PLC0415

    async def run() -> dict[str, Any]:
        async with _checkpoint_client(args.nats, args.worker) as client:
            record = await upload_checkpoint(
                client,
                args.directory,
                job_id=args.job,
                attempt=args.attempt,
                retention=Retention(keepLast=args.keep_last),
            )
            return record.model_dump(mode="json", exclude_none=True)

    _print(asyncio.run(run()))
    return 0


def _download(args: argparse.Namespace) -> int:
    from hounsfield.platform.checkpoint_download import download_checkpoint  # noqa: PLC0415

    async def run() -> str:
        async with _checkpoint_client(args.nats, args.worker) as client:
            record = await client.resolve(args.ref)
            return str(await download_checkpoint(client, record, args.out))

    _print({"path": asyncio.run(run())})
    return 0


class _checkpoint_client:  # noqa: N801 - used as an async context manager
    """A CheckpointClient on its own NATS connection (a worker's subjects and access), drained on exit."""

    def __init__(self, url: str, worker_id: str | None) -> None:
        if not worker_id:
            raise ValueError(
                "name the worker to act as: --worker or HOUNSFIELD_WORKER_ID (with its NATS user)"
            )
        self._url = url
        self._worker_id = worker_id

    async def __aenter__(self) -> Any:
        import nats  # noqa: PLC0415

        from hounsfield.platform.checkpoint_client import CheckpointClient  # noqa: PLC0415
        from hounsfield.platform.nats import NatsAccess  # noqa: PLC0415

        access = NatsAccess.from_env()
        self._nc = await nats.connect(
            self._url, connect_timeout=10, max_reconnect_attempts=3, **access.connect_options()
        )
        return CheckpointClient(self._nc, self._worker_id)

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.drain()
