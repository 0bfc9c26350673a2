"""Loading a checkpoint directory onto a device, with ``weights_only=True`` for everything pickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from hounsfield.checkpoints.layout import MODEL_FILE, CheckpointFormatError
from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import CheckpointMeta


def read_checkpoint(
    directory: Path, device: torch.device | str = "cpu"
) -> tuple[dict[str, Any], CheckpointMeta]:
    """The state (every tensor on ``device``) and the metadata of one checkpoint directory."""
    meta = read_meta(directory)
    target = torch.device(device)
    state: dict[str, Any] = {}
    for key, name in meta.stateFiles.items():
        file_name = str(name)
        path = directory / file_name
        if not path.is_file():
            raise CheckpointFormatError(f"{directory} lacks {file_name} (state key {key!r} in meta.json)")
        if file_name == MODEL_FILE or file_name.endswith(".safetensors"):
            state[key] = load_file(str(path), device=str(target))
        else:
            state[key] = torch.load(path, map_location=target, weights_only=True)
    return state, meta
