"""Moving one stored part through a grant: a presigned URL (s3) or a path on the shared filesystem (fs).

Bytes stream in chunks, so a checkpoint is never held in memory; an upload's bytes go from the page
cache to the socket or the target file inside the kernel (``sendfile``, ``copy_file_range``) where
the system allows it, so they are not copied through Python twice. Hashing is not done here: the
agent hashes each file once, in order, on a thread of its own, while parts move in parallel.
A download writes to any ``Sink`` (a file, or a writer at a part's offset of one).
Blocking I/O: the agent runs these in threads (file and socket I/O release the GIL).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import uuid
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

from hounsfield.contracts.models import AccessGrant1, AccessGrant2

CHUNK = 4 << 20
#: The fs store's marker for in-progress writes (libs/storage): listings skip such files.
TEMP_SUFFIX = ".hf-tmp"


class TransferError(OSError):
    """A part could not be written or read through its grant (worth retrying with a fresh grant)."""


def put_part(grant: AccessGrant1 | AccessGrant2, source: Path, offset: int, length: int) -> int:
    """Stores ``length`` bytes of ``source`` from ``offset``; returns the bytes sent."""
    with source.open("rb") as file:
        file.seek(offset)
        if isinstance(grant, AccessGrant2):
            return _write_path(Path(grant.path), file, length)
        return _http_put(str(grant.url), file, length)


class Sink(Protocol):
    """Where downloaded bytes go, chunk after chunk."""

    def write(self, chunk: bytes, /) -> int: ...


def get_part(grant: AccessGrant1 | AccessGrant2, target: Sink) -> int:
    """Writes one stored part to ``target`` (at a file's current position); returns its size."""
    if isinstance(grant, AccessGrant2):
        try:
            with open(grant.path, "rb") as source:
                # A sink that can take a whole file inside the kernel (a download's part writer).
                copy_from = getattr(target, "copy_from", None)
                copied = None if copy_from is None else copy_from(source)
                return copied if copied is not None else _copy(source, target, None)
        except FileNotFoundError as error:
            raise TransferError(f"{grant.path} is gone (deleted by retention?)") from error
    return get_url(str(grant.url), target)


def get_url(url_text: str, target: Sink) -> int:
    """Writes what a (presigned) URL answers to ``target``, streamed."""
    url = urlsplit(url_text)
    connection = _connection(url.scheme, url.netloc)
    try:
        connection.request("GET", f"{url.path}?{url.query}" if url.query else url.path)
        response = connection.getresponse()
        if response.status != 200:
            raise TransferError(f"GET {url.path} answered {response.status}: {response.read(500)!r}")
        return _copy(response, target, None)
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, TransferError):
            raise
        raise TransferError(f"GET {url.path} failed: {error}") from error
    finally:
        connection.close()


def _write_path(path: Path, source: IO[bytes], length: int) -> int:
    """Writes a temporary file beside ``path`` and renames it into place (readers never see half).

    Not flushed here: the uploader flushes each part on a thread of its own (``flush_files``) while
    the next parts are written, and their directories once all are (``flush_directories``).
    """
    temp = path.with_name(f".{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        with temp.open("wb") as target:
            size = _copy_in_kernel(source, target, length)
            if size is None:
                size = _copy(source, target, length)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, TransferError):
            raise
        raise TransferError(f"cannot write {path}: {error}") from error
    return size


def flush_files(paths: list[Path]) -> None:
    """Flushes written parts: a commit must never name bytes a crash can lose."""
    for path in paths:
        _fsync(path)


def flush_directories(paths: list[Path]) -> None:
    """Flushes the directories of ``paths`` (their renames), once all of them were written."""
    for directory in sorted({path.parent for path in paths}):
        _fsync(directory)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _http_put(url_text: str, source: IO[bytes], length: int) -> int:
    url = urlsplit(url_text)
    connection = _connection(url.scheme, url.netloc)
    try:
        # A presigned PUT needs the exact length up front (S3 refuses chunked uploads).
        connection.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        remaining = length - _send_in_kernel(connection.sock, source, length)
        while remaining > 0:
            chunk = source.read(min(CHUNK, remaining))
            if not chunk:
                raise TransferError(
                    f"the local file ended {remaining} bytes early (changed while uploading?)"
                )
            connection.send(chunk)
            remaining -= len(chunk)
        response = connection.getresponse()
        body = response.read(500)
        if response.status not in (200, 201, 204):
            raise TransferError(f"PUT {url.path} answered {response.status}: {body!r}")
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, TransferError):
            raise
        raise TransferError(f"PUT {url.path} failed: {error}") from error
    finally:
        connection.close()
    return length


def _send_in_kernel(sock: socket.socket | None, source: IO[bytes], length: int) -> int:
    """Sends up to ``length`` bytes of ``source`` (from its position) with ``sendfile``, advancing
    ``source`` past them; 0 for a TLS socket (the caller sends everything then)."""
    if sock is None or isinstance(sock, ssl.SSLSocket):
        return 0
    return sock.sendfile(source, source.tell(), length)


def _copy_in_kernel(source: IO[bytes], target: IO[bytes], length: int) -> int | None:
    """Copies ``length`` bytes from ``source``'s position with ``copy_file_range``; None when the
    system cannot (the caller copies through Python then)."""
    copied = copy_file_range(source.fileno(), target.fileno(), length, source.tell(), target.tell())
    if copied is not None and copied != length:
        raise TransferError(f"the source ended after {copied} of {length} bytes")
    return copied


def copy_file_range(source: int, target: int, length: int, source_at: int, target_at: int) -> int | None:
    """Copies up to ``length`` bytes between two files' offsets inside the kernel; returns how many
    (fewer when ``source`` ends first), or None when the system cannot, before anything was copied."""
    if not hasattr(os, "copy_file_range"):
        return None
    copied = 0
    try:
        while copied < length:
            done = os.copy_file_range(source, target, length - copied, source_at + copied, target_at + copied)
            if done == 0:
                break
            copied += done
    except OSError:
        if copied:
            raise
        return None  # not supported between these filesystems
    return copied


def _copy(source: IO[bytes] | http.client.HTTPResponse, target: Sink, length: int | None) -> int:
    size = 0
    while length is None or size < length:
        chunk = source.read(CHUNK if length is None else min(CHUNK, length - size))
        if not chunk:
            break
        target.write(chunk)
        size += len(chunk)
    if length is not None and size != length:
        raise TransferError(f"the source ended after {size} of {length} bytes")
    return size


def _connection(scheme: str, netloc: str) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(netloc, timeout=300)
    if scheme == "http":
        return http.client.HTTPConnection(netloc, timeout=300)
    raise TransferError(f"unsupported grant URL scheme {scheme!r}")
