"""``hounsfield checkpoint …``: import legacy files, download and upload checkpoints."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from hounsfield.checkpoints.gateway_client import GatewayClient

DEFAULT_GATEWAY = "http://127.0.0.1:8080"


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checkpoint = subcommands.add_parser("checkpoint", help="import, download and upload checkpoints")
    actions = checkpoint.add_subparsers(dest="action", required=True)

    imports = actions.add_parser(
        "import",
        help="convert a legacy .pth / Lightning .ckpt (CUDA tensors included) into a checkpoint",
        description="Locally with --out (no platform needed), or on the platform through the gateway: "
        "the file is uploaded, converted by a CPU job on a worker, and committed as that job's checkpoint.",
    )
    imports.add_argument("source", type=Path, help="the legacy file")
    where = imports.add_mutually_exclusive_group()
    where.add_argument(
        "--out", type=Path, help="write the checkpoint under this directory instead of the platform"
    )
    where.add_argument(
        "--gateway", help=f"gateway URL (default: $HOUNSFIELD_GATEWAY_URL or {DEFAULT_GATEWAY})"
    )
    imports.add_argument("--format", choices=["auto", "pth", "lightning"], default="auto")
    imports.add_argument("--step", type=int, help="step to record when the file does not say (default 0)")
    imports.add_argument(
        "--trust-pickled", action="store_true", help="--out only: allow arbitrary pickled objects"
    )
    imports.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the import job")
    imports.set_defaults(handler=_import)

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


def _import(args: argparse.Namespace) -> int:
    if args.out is not None:
        from hounsfield.checkpoints.importer import import_to_directory  # noqa: PLC0415 - imports torch

        path = import_to_directory(
            args.source, args.out, format=args.format, step=args.step, trust_pickled=args.trust_pickled
        )
        _print({"path": str(path)})
        return 0
    if args.trust_pickled:
        sys.stderr.write(
            "--trust-pickled applies to local imports (--out); the platform only loads safe files\n"
        )
        return 2
    gateway = GatewayClient(
        args.gateway or os.environ.get("HOUNSFIELD_GATEWAY_URL", DEFAULT_GATEWAY),
        token=os.environ.get("HOUNSFIELD_TOKEN") or None,
    )
    accepted = gateway.post_import(args.source, format=args.format, step=args.step)
    sys.stderr.write(f"uploaded {args.source.name}; import job {accepted['jobId']} is converting it\n")
    job = gateway.wait_for_job(accepted["jobId"], args.timeout)
    if job["state"] != "succeeded":
        sys.stderr.write(f"import job {job['id']} ended {job['state']}: {job.get('reason', '')}\n")
        return 1
    checkpoints = gateway.get(f"/v1/checkpoints?job={job['id']}&limit=1")["checkpoints"]
    _print({"import": accepted, "checkpoint": checkpoints[0] if checkpoints else None})
    return 0 if checkpoints else 1


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
