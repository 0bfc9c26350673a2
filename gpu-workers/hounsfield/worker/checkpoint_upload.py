"""Uploading a checkpoint directory to the object store and committing it with the checkpoints service.

One upload: announce the files (the service answers with the part size), then per part a grant,
the bytes (streamed from disk, hashed on the way), and a "part uploaded" notice so the service
verifies it while the next part travels; finally the manifest is committed. Nothing is visible
before the commit succeeds. A rejected commit (bytes changed on the way) is retried once as a new
upload; an unavailable service is retried with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

from hounsfield.checkpoints.manifest import checkpoint_files, part_ranges
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import CheckpointCommitRequest, CheckpointRecord, Retention
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.worker.checkpoint_client import CheckpointClient, CheckpointServiceError
from hounsfield.worker.checkpoint_transfer import PartDigest, TransferError, put_part

_log = logging.getLogger(__name__)

#: "Part uploaded" notices in flight: the service verifies one while the next part uploads.
VERIFY_AHEAD = 2
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
    manifest = []
    pending: set[asyncio.Task[None]] = set()
    try:
        for name, size in files:
            whole = hashlib.sha256()
            parts = []
            for index, (offset, length) in enumerate(part_ranges(size, session.partSize)):
                digest, whole = await _put_with_retries(
                    client, session.uploadId, directory / name, (name, index, offset, length), whole
                )
                parts.append({"size": digest.size, "sha256": digest.sha256})
                if len(pending) >= VERIFY_AHEAD:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                pending.add(
                    asyncio.create_task(
                        client.part_uploaded(session.uploadId, name, index, digest.size, digest.sha256)
                    )
                )
            manifest.append({"name": name, "size": size, "sha256": whole.hexdigest(), "parts": parts})
        if pending:
            await asyncio.gather(*pending)
    except CheckpointServiceError as error:
        if error.code == "invalid_request":
            raise UploadRejectedError(str(error)) from error
        raise
    finally:
        for task in pending:
            task.cancel()
    request = CheckpointCommitRequest.model_validate(
        {
            "v": SCHEMA_VERSION,
            "uploadId": session.uploadId,
            "manifest": {"files": manifest},
            "retention": retention.model_dump(exclude_none=True),
        }
    )
    try:
        return await client.commit(request)
    except CheckpointServiceError as error:
        if error.code == "invalid_request":
            raise UploadRejectedError(str(error)) from error
        raise


async def _put_with_retries(
    client: CheckpointClient,
    upload_id: str,
    path: Path,
    part: tuple[str, int, int, int],
    whole: hashlib._Hash,
) -> tuple[PartDigest, hashlib._Hash]:
    """Stores one part (fresh grant per attempt); returns its digest and the file hash advanced past it.

    Each attempt hashes into a copy of the file hash, so bytes of a failed attempt never count.
    """
    name, index, offset, length = part
    last: Exception | None = None
    for attempt in range(PART_ATTEMPTS):
        grant = await client.upload_grant(upload_id, name, index)
        trial = whole.copy()
        try:
            digest = await asyncio.to_thread(put_part, grant, path, offset, length, trial)
        except TransferError as error:
            last = error
            _log.warning("%s part %d: upload attempt %d failed: %s", name, index, attempt + 1, error)
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        return digest, trial
    raise TransferError(f"{name} part {index}: {PART_ATTEMPTS} upload attempts failed; last: {last}")
