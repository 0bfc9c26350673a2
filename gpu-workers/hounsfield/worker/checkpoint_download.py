"""Fetching a committed checkpoint for a resume: download, verify against the manifest, then expose it.

Parts download two at a time, each written at its offset; behind them, one thread hashes the
file in order as each part completes (reading it back from the page cache), so verification
overlaps the transfer and each byte is hashed once. Every part must have its size and every file
its sha256. The directory appears under its final name only when all of it matched, so a trainer
never starts from a partial or corrupted checkpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from hounsfield.checkpoints.manifest import hash_range
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import AccessGrant1, AccessGrant2, CheckpointFile, CheckpointRecord
from hounsfield.worker.checkpoint_client import CheckpointClient
from hounsfield.worker.checkpoint_transfer import TransferError, get_part

PARTS_IN_FLIGHT = 2
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
    with path.open("wb") as handle:
        handle.truncate(file.size)
    offsets = [0]
    for part in file.parts[:-1]:
        offsets.append(offsets[-1] + part.size)
    arrived = [asyncio.Event() for _ in file.parts]
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
    where = f"checkpoint {checkpoint_id}"

    async def fetch(index: int) -> None:
        async with slots:
            size = await _download_part(client, checkpoint_id, file.name, index, path, offsets[index])
        expected = file.parts[index].size
        if size != expected:
            raise CheckpointVerificationError(
                f"{file.name} part {index} of {where}: got {size} bytes, the manifest says {expected}"
            )
        arrived[index].set()

    async def hash_in_order() -> str:
        digest = hashlib.sha256()
        for index, part in enumerate(file.parts):
            await arrived[index].wait()
            await asyncio.to_thread(hash_range, path, offsets[index], part.size, digest)
        return digest.hexdigest()

    tasks = [asyncio.create_task(fetch(index)) for index in range(len(file.parts))]
    hashing = asyncio.create_task(hash_in_order())
    try:
        await asyncio.gather(*tasks)
        sha256 = await hashing
    finally:
        for task in (*tasks, hashing):
            task.cancel()
    if sha256 != file.sha256:
        raise CheckpointVerificationError(
            f"{file.name} of {where}: sha256 {sha256[:12]}… differs from the manifest's {file.sha256[:12]}…"
        )
    with path.open("rb+") as written:
        os.fsync(written.fileno())


async def _download_part(
    client: CheckpointClient, checkpoint_id: str, name: str, index: int, path: Path, offset: int
) -> int:
    """Writes one part at its offset (fresh grant per attempt; a retry overwrites the same bytes)."""
    for attempt in range(PART_ATTEMPTS):
        grant = await client.download_grant(checkpoint_id, name, index)
        try:
            return await asyncio.to_thread(_write_at, grant, path, offset)
        except TransferError:
            if attempt + 1 == PART_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _write_at(grant: AccessGrant1 | AccessGrant2, path: Path, offset: int) -> int:
    with path.open("rb+") as handle:
        handle.seek(offset)
        return get_part(grant, handle)
