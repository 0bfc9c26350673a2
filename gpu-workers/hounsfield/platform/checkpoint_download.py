"""Fetching a committed checkpoint for a resume: download, verify against the manifest, then expose it.

Each file's parts travel ``PARTS_IN_FLIGHT`` at a time (one part's grant, connection and first byte
overlap the others' transfer, as ranged parallel GETs do), each written at its own offset of the
file. A helper thread hashes the file in order, part by part as soon as a part and all parts
before it are complete, reading them back from the page cache while later parts still travel, so
verification overlaps the transfer and each byte is hashed once. Every part must have its size
and every file its sha256. A failed part is fetched again with a fresh grant into the same place.
The directory appears under its final name only when all of it matched, so a trainer never starts
from a partial or corrupted checkpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import CheckpointFile, CheckpointRecord
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.checkpoint_transfer import CHUNK, TransferError, copy_file_range, get_part

PART_ATTEMPTS = 3
#: Parts downloading at once (per file).
PARTS_IN_FLIGHT = 4


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


class _AbandonedError(Exception):
    """The download ended (failed or cancelled) while a helper thread still used its file."""


class _SharedFile:
    """One file descriptor (read and write) shared by the part threads and the hasher. The owner's
    ``close`` closes it only once no thread is inside a read or write, so a thread still running
    after its task was cancelled never writes through a descriptor number reused by then."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._users = 1  # the owner
        self._closed = False
        self._lock = threading.Lock()

    def pwrite(self, data: memoryview, offset: int) -> int:
        with self._use() as fd:
            return os.pwrite(fd, data, offset)

    def pread(self, size: int, offset: int) -> bytes:
        with self._use() as fd:
            return os.pread(fd, size, offset)

    def copy_in(self, source: int, offset: int, length: int) -> int | None:
        """Copies ``length`` bytes of the file ``source`` to ``offset`` inside the kernel; None when
        the system cannot."""
        with self._use() as fd:
            return copy_file_range(source, fd, length, 0, offset)

    def fsync(self) -> None:
        with self._use() as fd:
            os.fsync(fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    @contextmanager
    def _use(self) -> Iterator[int]:
        with self._lock:
            if self._closed:
                raise _AbandonedError("the download has ended")
            self._users += 1
        try:
            yield self._fd
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            os.close(self._fd)


class _PartWriter:
    """Writes one part's bytes at its offset of the file; refuses more than the manifest's size."""

    def __init__(self, file: _SharedFile, offset: int, size: int, where: str) -> None:
        self._file, self._offset, self._size, self._where = file, offset, size, where
        self.written = 0

    def copy_from(self, source: BinaryIO) -> int | None:
        """The whole of ``source`` (a part on the shared filesystem) copied into place inside the
        kernel; None when the system cannot (the caller then writes it chunk by chunk)."""
        size = os.fstat(source.fileno()).st_size
        if size > self._size:
            raise CheckpointVerificationError(f"{self._where}: {size} bytes, the manifest says {self._size}")
        copied = self._file.copy_in(source.fileno(), self._offset, size)
        if copied is not None:
            self.written = copied
        return copied

    def write(self, chunk: bytes) -> int:
        if self.written + len(chunk) > self._size:
            raise CheckpointVerificationError(f"{self._where}: more than the manifest's {self._size} bytes")
        view = memoryview(chunk)
        while view:
            done = self._file.pwrite(view, self._offset + self.written)
            self.written += done
            view = view[done:]
        return len(chunk)


class _OrderedHash:
    """sha256 of a file whose parts complete in any order: ``run`` (on a thread) hashes part after
    part from the file as each one and all before it are complete."""

    def __init__(self, file: _SharedFile, sizes: list[int]) -> None:
        self._file = file
        self._sizes = sizes
        self._complete = [threading.Event() for _ in sizes]
        self._stopped = False

    def completed(self, index: int) -> None:
        self._complete[index].set()

    def stop(self) -> None:
        """Ends ``run`` early (the download failed)."""
        self._stopped = True
        for event in self._complete:
            event.set()

    def run(self) -> str | None:
        digest = hashlib.sha256()
        offset = 0
        for index, size in enumerate(self._sizes):
            self._complete[index].wait()
            end = offset + size
            while offset < end:
                if self._stopped:
                    return None
                chunk = self._file.pread(min(CHUNK, end - offset), offset)
                if not chunk:
                    raise CheckpointVerificationError(f"the file ended at {offset} bytes while hashing it")
                digest.update(chunk)
                offset += len(chunk)
        return digest.hexdigest()


async def _download_file(
    client: CheckpointClient, checkpoint_id: str, file: CheckpointFile, path: Path
) -> None:
    where = f"checkpoint {checkpoint_id}"
    sizes = [part.size for part in file.parts]
    offsets = [sum(sizes[:index]) for index in range(len(sizes))]
    shared = _SharedFile(path)
    hasher = _OrderedHash(shared, sizes)
    hashing = asyncio.create_task(asyncio.to_thread(hasher.run))
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)

    async def fetch(index: int) -> None:
        async with slots:
            label = f"{file.name} part {index} of {where}"
            writer = _PartWriter(shared, offsets[index], sizes[index], label)
            size = await _download_part(client, checkpoint_id, file.name, index, writer)
        if size != sizes[index]:
            raise CheckpointVerificationError(f"{label}: {size} bytes, the manifest says {sizes[index]}")
        hasher.completed(index)

    parts = [asyncio.create_task(fetch(index)) for index in range(len(sizes))]
    try:
        await asyncio.gather(*parts)
        await asyncio.to_thread(shared.fsync)
        sha256 = await hashing
    finally:
        for task in parts:
            task.cancel()
        hasher.stop()
        await asyncio.gather(*parts, hashing, return_exceptions=True)
        shared.close()
    if sha256 != file.sha256:
        found = str(sha256)[:12]
        raise CheckpointVerificationError(
            f"{file.name} of {where}: sha256 {found}… differs from the manifest's {file.sha256[:12]}…"
        )


async def _download_part(
    client: CheckpointClient, checkpoint_id: str, name: str, index: int, writer: _PartWriter
) -> int:
    """Writes one part at its offset (a fresh grant per attempt; a retry overwrites the same bytes)."""
    for attempt in range(PART_ATTEMPTS):
        grant = await client.download_grant(checkpoint_id, name, index)
        writer.written = 0
        try:
            return await asyncio.to_thread(get_part, grant, writer)
        except TransferError:
            if attempt + 1 == PART_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
