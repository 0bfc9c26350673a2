"""The two sides of the checkpoint transfer benchmark, timed inside one Python process each.

platform: the worker agent's own code — ``upload_checkpoint`` (grants, parts, verification,
commit) and ``download_checkpoint`` (resolve, grants, verification) over NATS.
raw: what one would do without the platform — boto3 (managed multipart transfer, and one plain
request) against S3, a copy (temporary file, fsync, rename) on the shared filesystem.

Prints one JSON object: {"seconds": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
from pathlib import Path


def _platform_upload(args: argparse.Namespace) -> None:
    import nats

    from hounsfield.contracts.models import Retention
    from hounsfield.platform.checkpoint_client import CheckpointClient
    from hounsfield.platform.checkpoint_upload import upload_checkpoint

    async def run() -> str:
        nc = await nats.connect(args.nats, **_credentials())
        try:
            record = await upload_checkpoint(
                CheckpointClient(nc, "bench-worker"),
                Path(args.path),
                job_id=args.job,
                attempt=1,
                retention=Retention(keepLast=1),
            )
            return record.id
        finally:
            await nc.drain()

    started = time.perf_counter()
    checkpoint_id = asyncio.run(run())
    _report(started, id=checkpoint_id)


def _credentials() -> dict[str, str]:
    """The NATS user the bench runs as (the stack's harness user), from the environment."""
    from hounsfield.platform.nats import NatsAccess

    return NatsAccess.from_env().connect_options()


def _platform_download(args: argparse.Namespace) -> None:
    import nats

    from hounsfield.platform import checkpoint_download
    from hounsfield.platform.checkpoint_client import CheckpointClient
    from hounsfield.platform.checkpoint_download import download_checkpoint

    if os.environ.get("BENCH_DOWNLOAD_PARTS"):  # parts in flight, to compare (1: one after another)
        checkpoint_download.PARTS_IN_FLIGHT = int(os.environ["BENCH_DOWNLOAD_PARTS"])

    async def run() -> None:
        nc = await nats.connect(args.nats, **_credentials())
        try:
            client = CheckpointClient(nc, "bench-worker")
            await download_checkpoint(client, await client.resolve(args.ref), Path(args.out))
        finally:
            await nc.drain()

    started = time.perf_counter()
    asyncio.run(run())
    _report(started)


def _s3(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    )


def _raw_upload_s3(args: argparse.Namespace) -> None:
    s3 = _s3(args)
    started = time.perf_counter()
    if args.single:
        with open(args.path, "rb") as body:
            s3.put_object(
                Bucket=args.bucket, Key=args.key, Body=body, ContentLength=os.path.getsize(args.path)
            )
    else:
        s3.upload_file(args.path, args.bucket, args.key)
    _report(started)


def _raw_download_s3(args: argparse.Namespace) -> None:
    s3 = _s3(args)
    started = time.perf_counter()
    if args.single:
        body = s3.get_object(Bucket=args.bucket, Key=args.key)["Body"]
        with open(args.out, "wb") as target:
            shutil.copyfileobj(body, target, 1 << 20)
            target.flush()
            os.fsync(target.fileno())
    else:
        s3.download_file(args.bucket, args.key, args.out)
    _report(started)


def _raw_copy(args: argparse.Namespace) -> None:
    """A careful copy: temporary name, flushed, renamed (what the fs store and the agent do too)."""
    started = time.perf_counter()
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.tmp")
    with open(args.path, "rb") as source, open(temp, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temp, target)
    _report(started)


def _report(started: float, **extra: str) -> None:
    print(json.dumps({"seconds": time.perf_counter() - started, **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    upload = commands.add_parser("platform-upload")
    upload.add_argument("path")
    upload.add_argument("--nats", required=True)
    upload.add_argument("--job", required=True)
    upload.set_defaults(run=_platform_upload)
    download = commands.add_parser("platform-download")
    download.add_argument("ref")
    download.add_argument("out")
    download.add_argument("--nats", required=True)
    download.set_defaults(run=_platform_download)
    for name, handler in (("raw-upload-s3", _raw_upload_s3), ("raw-download-s3", _raw_download_s3)):
        raw = commands.add_parser(name)
        raw.add_argument("--endpoint", required=True)
        raw.add_argument("--bucket", required=True)
        raw.add_argument("--key", required=True)
        raw.add_argument("--path")
        raw.add_argument("--out")
        raw.add_argument(
            "--single", action="store_true", help="one plain request instead of the managed transfer"
        )
        raw.set_defaults(run=handler)
    copy = commands.add_parser("raw-copy")
    copy.add_argument("path")
    copy.add_argument("out")
    copy.set_defaults(run=_raw_copy)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
