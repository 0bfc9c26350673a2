"""`submit --code DIR`: pack a project reproducibly, upload it once per content, name it on the job.

The archive is a plain tar whose bytes depend only on the files' paths, contents and executable
bits (sorted, zero mtimes, no owners), so the same tree always has the same sha256 and a second
submission finds it already stored and uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec
from rich.console import Console

from hounsfield_client.api import ClientError, Gateway

DEFAULT_LIMIT_MIB = 64
IGNORE_FILES = (".gitignore", ".hounsfieldignore")
ALWAYS_LEFT_OUT = (".git/", "__pycache__/", "*.pyc", ".venv/", ".hounsfield/")


@dataclass(frozen=True)
class PackedCode:
    digest: str
    size: int
    files: int
    git_commit: str | None
    dirty: bool
    archive: bytes

    def reference(self) -> dict[str, Any]:
        """What the job spec's `code` records."""
        reference: dict[str, Any] = {"digest": self.digest}
        if self.git_commit:
            reference["gitCommit"] = self.git_commit
            reference["dirty"] = self.dirty
        return reference


def limit_bytes() -> int:
    return int(float(os.environ.get("HOUNSFIELD_CODE_MAX_MIB", DEFAULT_LIMIT_MIB)) * 2**20)


def project_files(root: Path) -> list[Path]:
    """Files under `root` (relative, sorted) that no .gitignore / .hounsfieldignore above them leaves out."""
    chosen: list[Path] = []
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = [(Path("."), _spec(ALWAYS_LEFT_OUT))]
    for directory, subdirs, names in os.walk(root):
        here = Path(directory).relative_to(root)
        for ignore_file in IGNORE_FILES:
            if (Path(directory) / ignore_file).is_file():
                lines = (
                    (Path(directory) / ignore_file).read_text(encoding="utf-8", errors="replace").splitlines()
                )
                specs.append((here, _spec(lines)))
        subdirs[:] = sorted(d for d in subdirs if not _ignored(specs, here / d, is_dir=True))
        for name in sorted(names):
            path = here / name
            if not _ignored(specs, path, is_dir=False) and (Path(directory) / name).is_file():
                chosen.append(path)
    return sorted(chosen, key=lambda p: p.as_posix())


def _spec(lines: Any) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: list[tuple[Path, pathspec.GitIgnoreSpec]], path: Path, *, is_dir: bool) -> bool:
    for base, spec in specs:
        try:
            relative = path.relative_to(base) if base != Path(".") else path
        except ValueError:
            continue
        if spec.match_file(relative.as_posix() + ("/" if is_dir else "")):
            return True
    return False


def pack(root: Path) -> PackedCode:
    """The project's archive and digest; too big → an error naming the biggest files."""
    if not root.is_dir():
        raise ClientError(f"--code {root}: not a directory")
    files = project_files(root)
    if not files:
        raise ClientError(f"--code {root}: no files to upload (all ignored?)")
    sizes = {path: (root / path).stat().st_size for path in files}
    total = sum(sizes.values())
    if total > limit_bytes():
        biggest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
        listing = ", ".join(f"{p.as_posix()} ({s / 2**20:.1f} MiB)" for p, s in biggest)
        raise ClientError(
            f"--code {root}: {total / 2**20:.1f} MiB of files, more than the limit of "
            f"{limit_bytes() / 2**20:.0f} MiB (HOUNSFIELD_CODE_MAX_MIB). The biggest: {listing}. "
            "Leave data and outputs out with a .hounsfieldignore (gitignore syntax)."
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in files:
            info = tarfile.TarInfo(path.as_posix())
            info.size = sizes[path]
            info.mode = 0o755 if os.access(root / path, os.X_OK) else 0o644
            info.mtime = 0
            with (root / path).open("rb") as content:
                archive.addfile(info, content)
    data = buffer.getvalue()
    commit, dirty = git_state(root)
    return PackedCode(
        digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
        size=len(data),
        files=len(files),
        git_commit=commit,
        dirty=dirty,
        archive=data,
    )


def git_state(root: Path) -> tuple[str | None, bool]:
    """HEAD's commit and whether the tree differs from it; (None, False) outside a repository."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30
        )
        if commit.returncode != 0:
            return None, False
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return commit.stdout.strip(), bool(status.stdout.strip())


def upload_code(gateway: Gateway, root: Path, console: Console | None) -> PackedCode:
    """Packs `root` and uploads the archive unless the platform already holds that digest."""
    packed = pack(root)
    if gateway.code_stored(packed.digest):
        if console:
            console.print(
                f"code {packed.digest[:19]}… already stored ({packed.files} files); nothing uploaded"
            )
        return packed
    gateway.upload_code(packed.digest, packed.archive)
    if console:
        console.print(
            f"uploaded code {packed.digest[:19]}… ({packed.files} files, {packed.size / 2**10:.0f} KiB)"
        )
    return packed
