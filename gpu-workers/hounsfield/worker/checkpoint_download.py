"""Fetching a committed checkpoint for a resume: download part by part, verify, then expose it.

Every part and every whole file is checked against the manifest while it streams to disk; the
directory appears under its final name only when all of it matched, so a trainer never starts
from a partial or corrupted checkpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import CheckpointFile, CheckpointRecord
from hounsfield.worker.checkpoint_client import CheckpointClient
from hounsfield.worker.checkpoint_transfer import PartDigest, TransferError, get_part

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
    whole = hashlib.sha256()
    where = f"checkpoint {checkpoint_id}"
    with path.open("wb") as handle:
        for index, expected in enumerate(file.parts):
            digest, whole = await _download_part(client, checkpoint_id, file.name, index, handle, whole)
            if digest.size != expected.size or digest.sha256 != expected.sha256:
                raise CheckpointVerificationError(
                    f"{file.name} part {index} of {where}: got {digest.size} bytes, sha256 "
                    f"{digest.sha256[:12]}…; the manifest says {expected.size} bytes, "
                    f"{expected.sha256[:12]}…"
                )
        handle.flush()
        os.fsync(handle.fileno())
    actual = whole.hexdigest()
    if actual != file.sha256:
        raise CheckpointVerificationError(
            f"{file.name} of {where}: sha256 {actual[:12]}… differs from the manifest"
        )


async def _download_part(
    client: CheckpointClient,
    checkpoint_id: str,
    name: str,
    index: int,
    handle: BinaryIO,
    whole: hashlib._Hash,
) -> tuple[PartDigest, hashlib._Hash]:
    """Appends one part (fresh grant per attempt; a failed attempt's bytes are cut off again)."""
    start = handle.tell()
    for attempt in range(PART_ATTEMPTS):
        grant = await client.download_grant(checkpoint_id, name, index)
        trial = whole.copy()
        try:
            return await asyncio.to_thread(get_part, grant, handle, trial), trial
        except TransferError:
            if attempt + 1 == PART_ATTEMPTS:
                raise
            handle.seek(start)
            handle.truncate()
    raise AssertionError("unreachable")
