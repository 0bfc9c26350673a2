"""Fetching a committed checkpoint for a resume: download part by part, verify, then expose it.

Every part is checked against the manifest (size and sha256) as it streams to disk — the service
computed each file's sha256 from exactly these verified parts, so matching parts mean a matching
file. Two parts are in flight at once, each written at its own offset. The directory appears under
its final name only when all of it matched, so a trainer never starts from a partial or corrupted
checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import AccessGrant1, AccessGrant2, CheckpointFile, CheckpointRecord
from hounsfield.worker.checkpoint_client import CheckpointClient
from hounsfield.worker.checkpoint_transfer import PartDigest, TransferError, get_part

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
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
    offsets = [0]
    for part in file.parts[:-1]:
        offsets.append(offsets[-1] + part.size)

    async def fetch(index: int) -> None:
        async with slots:
            digest = await _download_part(client, checkpoint_id, file.name, index, path, offsets[index])
        expected = file.parts[index]
        if digest.size != expected.size or digest.sha256 != expected.sha256:
            raise CheckpointVerificationError(
                f"{file.name} part {index} of checkpoint {checkpoint_id}: got {digest.size} bytes, sha256 "
                f"{digest.sha256[:12]}…; the manifest says {expected.size} bytes, {expected.sha256[:12]}…"
            )

    tasks = [asyncio.create_task(fetch(index)) for index in range(len(file.parts))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    with path.open("rb+") as written:
        os.fsync(written.fileno())


async def _download_part(
    client: CheckpointClient, checkpoint_id: str, name: str, index: int, path: Path, offset: int
) -> PartDigest:
    """Writes one part at its offset (fresh grant per attempt; a retry overwrites the same bytes)."""
    for attempt in range(PART_ATTEMPTS):
        grant = await client.download_grant(checkpoint_id, name, index)
        try:
            return await asyncio.to_thread(_write_at, grant, path, offset)
        except TransferError:
            if attempt + 1 == PART_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _write_at(grant: AccessGrant1 | AccessGrant2, path: Path, offset: int) -> PartDigest:
    with path.open("rb+") as handle:
        handle.seek(offset)
        return get_part(grant, handle)
