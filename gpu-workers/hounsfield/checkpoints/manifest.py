"""The manifest of a stored checkpoint: every file's size and sha256, and the sizes of its parts.

The checkpoints service chooses the part size when an upload begins; file ``f`` of ``n`` bytes is
stored as parts ``[i * part_size, (i + 1) * part_size)``, an empty file as one empty part.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from hounsfield.checkpoints.layout import META_FILE, CheckpointFormatError
from hounsfield.contracts.models import CheckpointFile

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CHUNK = 4 << 20


def checkpoint_files(directory: Path) -> list[tuple[str, int]]:
    """The files of a checkpoint directory to store, with their sizes, by name (meta.json included)."""
    files: list[tuple[str, int]] = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue  # temporary files of an interrupted write
        if not entry.is_file():
            raise CheckpointFormatError(
                f"{entry} is not a regular file; a checkpoint directory holds files only"
            )
        if not _FILE_NAME.match(entry.name) or entry.name.endswith(".hf-tmp"):
            raise CheckpointFormatError(
                f"{entry.name} cannot be stored: use letters, digits, '.', '_' and '-'"
            )
        files.append((entry.name, entry.stat().st_size))
    if META_FILE not in {name for name, _ in files}:
        raise CheckpointFormatError(f"{directory} is not a checkpoint: it has no {META_FILE}")
    return files


def part_ranges(size: int, part_size: int) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of each part of a file of ``size`` bytes."""
    if size == 0:
        yield 0, 0
        return
    for offset in range(0, size, part_size):
        yield offset, min(part_size, size - offset)


def hash_range(path: Path, offset: int, length: int, digest: hashlib._Hash) -> None:
    """Feeds ``length`` bytes of ``path`` from ``offset`` to ``digest`` (reads in chunks)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                raise OSError(f"{path} ended {remaining} bytes early")
            digest.update(chunk)
            remaining -= len(chunk)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    hash_range(path, 0, path.stat().st_size, digest)
    return digest.hexdigest()


def verify_directory(directory: Path, files: list[CheckpointFile]) -> list[str]:
    """Problems of a local copy against the manifest (empty when every byte matches), streamed."""
    problems: list[str] = []
    for file in files:
        path = directory / file.name
        if not path.is_file():
            problems.append(f"{file.name} is missing")
            continue
        if path.stat().st_size != file.size:
            problems.append(f"{file.name} has {path.stat().st_size} bytes, the manifest says {file.size}")
            continue
        actual = file_sha256(path)
        if actual != file.sha256:
            problems.append(
                f"{file.name}: sha256 {actual[:12]}… differs from the manifest's {file.sha256[:12]}…"
            )
    return problems
