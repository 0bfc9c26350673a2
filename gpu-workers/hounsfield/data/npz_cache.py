"""A directory of ``.npz`` files keyed by source files (path, mtime, size) and parameters.

Meshing a 512^3 skull takes seconds; the cache makes every epoch after the first (and every later
run) read the dense surface samples instead. A changed source file changes its key, so stale
entries are never returned; they are simply left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[np.generic]]


def file_fingerprint(path: Path) -> dict[str, object]:
    """What identifies a file's content cheaply: absolute path, mtime (ns) and size."""
    stat = path.stat()
    return {"path": str(path.resolve()), "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


class NpzCache:
    """Compute-once storage of named arrays under ``cache_dir``."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def key(self, kind: str, sources: list[Path], params: Mapping[str, object]) -> str:
        payload = {"kind": kind, "sources": [file_fingerprint(p) for p in sources], "params": dict(params)}
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return f"{kind}-{hashlib.sha256(blob).hexdigest()[:32]}"

    def get_or_compute(
        self,
        kind: str,
        sources: list[Path],
        params: Mapping[str, object],
        compute: Callable[[], Arrays],
    ) -> Arrays:
        """Return the cached arrays for (kind, sources, params), computing and storing them once."""
        path = self.cache_dir / f"{self.key(kind, sources, params)}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return {name: stored[name] for name in stored.files}
            except (OSError, ValueError) as exc:  # a torn or foreign file: recompute and replace
                logger.warning("discarding unreadable cache entry %s: %s", path, exc)
        arrays = compute()
        self._write_atomically(path, arrays)
        return arrays

    def _write_atomically(self, path: Path, arrays: Arrays) -> None:
        # Several DataLoader workers may fill the same entry; write aside, then rename over.
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, allow_pickle=False, **arrays)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
