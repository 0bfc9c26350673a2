"""Uploading a checkpoint directory to the object store and committing it with the checkpoints service.

One upload: announce the files (the service answers with the part size); for each file, its
sha256 is computed on a thread of its own while its parts upload, two at a time (one part's flush
or network wait overlaps the next one's reading); each stored part is reported, in order, so the
service reads it into its own running hash while later parts travel. Finally the manifest (per
file: name, size, sha256, part sizes) is committed, and the service compares. Each byte is hashed
once here and once by the service. Nothing is visible before the commit succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from hounsfield.checkpoints.manifest import checkpoint_files, file_sha256, part_ranges
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import AccessGrant2, CheckpointCommitRequest, CheckpointRecord, Retention
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.platform.checkpoint_client import CheckpointClient, CheckpointServiceError
from hounsfield.platform.checkpoint_transfer import TransferError, flush_directories, flush_files, put_part

_log = logging.getLogger(__name__)

#: Parts uploading at once (per checkpoint).
PARTS_IN_FLIGHT = 2
PART_ATTEMPTS = 3


class UploadRejectedError(Exception):
    """The service refused the checkpoint (the message says why)."""


async def upload_checkpoint(
    client: CheckpointClient, directory: Path, *, job_id: str, attempt: int, retention: Retention
) -> CheckpointRecord:
    """Uploads and commits one checkpoint directory; returns the committed record."""
    meta = read_meta(directory)
    files = checkpoint_files(directory)
    session = await client.begin_upload(job_id, attempt, meta.step, files)
    try:
        manifest = [
            await _upload_file(client, session.uploadId, directory / name, session.partSize)
            for name, _ in files
        ]
        request = CheckpointCommitRequest.model_validate(
            {
                "v": SCHEMA_VERSION,
                "uploadId": session.uploadId,
                "manifest": {"files": manifest},
                "retention": retention.model_dump(exclude_none=True),
            }
        )
        return await client.commit(request)
    except CheckpointServiceError as error:
        if error.code == "invalid_request":
            raise UploadRejectedError(str(error)) from error
        raise


async def _upload_file(
    client: CheckpointClient, upload_id: str, path: Path, part_size: int
) -> dict[str, Any]:
    """Uploads one file's parts while hashing the file; returns its manifest entry. A part written on
    the shared filesystem is flushed on a thread of its own as soon as it is written, while later
    parts are written and the service verifies (a commit must never name bytes a crash can lose)."""
    name = path.name
    ranges = list(part_ranges(path.stat().st_size, part_size))
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
    sizes: dict[int, int] = {}
    notices: list[asyncio.Task[None]] = []
    next_notice = 0
    written: list[Path] = []  # parts written on the shared filesystem
    flushes: list[asyncio.Task[None]] = []

    async def upload(index: int, offset: int, length: int) -> None:
        nonlocal next_notice
        async with slots:
            sizes[index], stored = await _put_with_retries(client, upload_id, path, (index, offset, length))
        if stored is not None:
            written.append(stored)
            flushes.append(asyncio.create_task(asyncio.to_thread(flush_files, [stored])))
        # Notices go out in part order: the service hashes the file as one stream.
        while next_notice in sizes:
            notices.append(
                asyncio.create_task(client.part_uploaded(upload_id, name, next_notice, sizes[next_notice]))
            )
            next_notice += 1

    digest = asyncio.create_task(asyncio.to_thread(file_sha256, path))
    uploads = [asyncio.create_task(upload(i, offset, length)) for i, (offset, length) in enumerate(ranges)]
    try:
        await asyncio.gather(*uploads)
        await asyncio.gather(*notices, *flushes)
        await asyncio.to_thread(flush_directories, written)
        sha256 = await digest
    finally:
        for task in (*uploads, *notices, *flushes):
            task.cancel()
    parts = [{"size": sizes[i]} for i in range(len(ranges))]
    return {"name": name, "size": sum(sizes.values()), "sha256": sha256, "parts": parts}


async def _put_with_retries(
    client: CheckpointClient, upload_id: str, path: Path, part: tuple[int, int, int]
) -> tuple[int, Path | None]:
    """Stores one part (index, offset, length), with a fresh grant per attempt; returns its size and,
    on the shared filesystem, the file it was written to."""
    index, offset, length = part
    last: Exception | None = None
    for attempt in range(PART_ATTEMPTS):
        grant = await client.upload_grant(upload_id, path.name, index)
        try:
            size = await asyncio.to_thread(put_part, grant, path, offset, length)
        except TransferError as error:
            last = error
            _log.warning("%s part %d: upload attempt %d failed: %s", path.name, index, attempt + 1, error)
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        return size, Path(grant.path) if isinstance(grant, AccessGrant2) else None
    raise TransferError(f"{path.name} part {index}: {PART_ATTEMPTS} upload attempts failed; last: {last}")
