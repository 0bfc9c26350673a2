"""Fetching a committed checkpoint for a resume: download, verify against the manifest, then expose it.

Each file streams part after part into place while a helper thread hashes the same chunks, so
verification overlaps the transfer and each byte is hashed once. Every part must have its size and
every file its sha256. The directory appears under its final name only when all of it matched, so
a trainer never starts from a partial or corrupted checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from hounsfield.checkpoints.hashing import BackgroundSha256
from hounsfield.checkpoints.manifest import file_sha256
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import CheckpointFile, CheckpointRecord
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.checkpoint_transfer import TransferError, get_part

PART_ATTEMPTS = 3


class CheckpointVerificationError(Exception):
    """Downloaded bytes do not match the manifest (the message names the file and part)."""


async def download_checkpoint(client: CheckpointClient, record: CheckpointRecord, root: Path) -> Path:
    """``root/<checkpoint id>``, downloaded and verified (reused when a previous run completed it)."""
    target = root / record.id
    if (target / "meta.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{record.id}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        for file in record.files:
            await _download_file(client, record.id, file, staging / file.name)
        read_meta(staging)  # the format is one this package can load
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


async def _download_file(
    client: CheckpointClient, checkpoint_id: str, file: CheckpointFile, path: Path
) -> None:
    where = f"checkpoint {checkpoint_id}"
    digest = BackgroundSha256()
    retried = False
    try:
        with path.open("wb") as handle:
            for index, part in enumerate(file.parts):
                size, again = await _download_part(client, checkpoint_id, file.name, index, handle, digest)
                retried = retried or again
                if size != part.size:
                    raise CheckpointVerificationError(
                        f"{file.name} part {index} of {where}: {size} bytes, the manifest says {part.size}"
                    )
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        sha256 = digest.hexdigest()
    if retried:
        # A failed attempt fed some bytes to the running hash: hash the file as it ended up.
        sha256 = await asyncio.to_thread(file_sha256, path)
    if sha256 != file.sha256:
        raise CheckpointVerificationError(
            f"{file.name} of {where}: sha256 {sha256[:12]}… differs from the manifest's {file.sha256[:12]}…"
        )


async def _download_part(
    client: CheckpointClient,
    checkpoint_id: str,
    name: str,
    index: int,
    handle: BinaryIO,
    digest: BackgroundSha256,
) -> tuple[int, bool]:
    """Appends one part (fresh grant per attempt; a failed attempt's bytes are cut off again)."""
    start = handle.tell()
    for attempt in range(PART_ATTEMPTS):
        grant = await client.download_grant(checkpoint_id, name, index)
        try:
            return await asyncio.to_thread(get_part, grant, handle, digest.update), attempt > 0
        except TransferError:
            if attempt + 1 == PART_ATTEMPTS:
                raise
            handle.seek(start)
            handle.truncate()
    raise AssertionError("unreachable")
