"""Uploading a checkpoint directory to the object store and committing it with the checkpoints service.

One upload: announce the files (the service answers with the part size), then per part a grant,
the bytes (streamed from disk and hashed on the way, two parts in flight so one part's flush or
network wait overlaps the next one's reading and hashing), and a "part uploaded" notice, sent in
part order, so the service verifies each part while later ones travel; finally the manifest is
committed. The service computes each file's sha256 from the verified parts. Nothing is visible
before the commit succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from hounsfield.checkpoints.manifest import checkpoint_files, part_ranges
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import AccessGrant2, CheckpointCommitRequest, CheckpointRecord, Retention
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.worker.checkpoint_client import CheckpointClient, CheckpointServiceError
from hounsfield.worker.checkpoint_transfer import PartDigest, TransferError, flush_paths, put_part

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
    written: list[Path] = []  # parts written on the shared filesystem, flushed before the commit
    try:
        manifest = [
            await _upload_file(client, session.uploadId, directory / name, session.partSize, written)
            for name, _ in files
        ]
        await asyncio.to_thread(flush_paths, written)
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
    client: CheckpointClient, upload_id: str, path: Path, part_size: int, written: list[Path]
) -> dict[str, Any]:
    """Uploads one file's parts; returns its manifest entry."""
    name = path.name
    ranges = list(part_ranges(path.stat().st_size, part_size))
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
    done: dict[int, PartDigest] = {}
    notices: list[asyncio.Task[None]] = []
    next_notice = 0

    async def upload(index: int, offset: int, length: int) -> None:
        nonlocal next_notice
        async with slots:
            done[index] = await _put_with_retries(client, upload_id, path, (index, offset, length), written)
        # Notices go out in part order: the service hashes the file as one stream.
        while next_notice in done:
            digest = done[next_notice]
            notices.append(
                asyncio.create_task(
                    client.part_uploaded(upload_id, name, next_notice, digest.size, digest.sha256)
                )
            )
            next_notice += 1

    uploads = [asyncio.create_task(upload(i, offset, length)) for i, (offset, length) in enumerate(ranges)]
    try:
        await asyncio.gather(*uploads)
        await asyncio.gather(*notices)
    finally:
        for task in (*uploads, *notices):
            task.cancel()
    parts = [{"size": done[i].size, "sha256": done[i].sha256} for i in range(len(ranges))]
    return {"name": name, "size": sum(p["size"] for p in parts), "parts": parts}


async def _put_with_retries(
    client: CheckpointClient, upload_id: str, path: Path, part: tuple[int, int, int], written: list[Path]
) -> PartDigest:
    """Stores one part (index, offset, length), with a fresh grant per attempt."""
    index, offset, length = part
    last: Exception | None = None
    for attempt in range(PART_ATTEMPTS):
        grant = await client.upload_grant(upload_id, path.name, index)
        try:
            digest = await asyncio.to_thread(put_part, grant, path, offset, length)
        except TransferError as error:
            last = error
            _log.warning("%s part %d: upload attempt %d failed: %s", path.name, index, attempt + 1, error)
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        if isinstance(grant, AccessGrant2):
            written.append(Path(grant.path))
        return digest
    raise TransferError(f"{path.name} part {index}: {PART_ATTEMPTS} upload attempts failed; last: {last}")
