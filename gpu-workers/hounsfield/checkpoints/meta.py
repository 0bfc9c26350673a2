"""``meta.json``: the CheckpointMeta contract, read and written with validation on both sides."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hounsfield.checkpoints.layout import FORMAT_VERSION, META_FILE, CheckpointFormatError
from hounsfield.contracts.models import CheckpointMeta

#: meta.json is small; anything larger is not one (the service applies the same bound).
MAX_META_BYTES = 1 << 20


def config_hash(config: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of what configures a run; equal configs hash equal in any key order."""
    canonical = json.dumps(
        {"config": config, "hyperparameters": hyperparameters},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_meta(directory: Path, meta: CheckpointMeta) -> Path:
    path = directory / META_FILE
    path.write_text(meta.model_dump_json(exclude_none=True, indent=2) + "\n", encoding="utf-8")
    return path


def parse_meta(text: str | bytes, where: str) -> CheckpointMeta:
    """Validates meta.json and refuses format versions this reader does not know."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointFormatError(f"{where} is not JSON: {error}") from error
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("formatVersion"), int)
        and raw["formatVersion"] > FORMAT_VERSION
    ):
        raise CheckpointFormatError(
            f"{where} has format version {raw['formatVersion']}; this hounsfield reads up to "
            f"{FORMAT_VERSION}: upgrade the hounsfield package"
        )
    try:
        return CheckpointMeta.model_validate(raw)
    except ValidationError as error:
        issue = error.errors()[0]
        field = ".".join(str(part) for part in issue["loc"]) or "(root)"
        raise CheckpointFormatError(f"{where} is not checkpoint metadata: {field}: {issue['msg']}") from error


def read_meta(directory: Path) -> CheckpointMeta:
    path = directory / META_FILE
    if not path.is_file():
        raise CheckpointFormatError(f"{directory} is not a checkpoint: it has no {META_FILE}")
    if path.stat().st_size > MAX_META_BYTES:
        raise CheckpointFormatError(
            f"{path} is larger than {MAX_META_BYTES} bytes; it is not checkpoint metadata"
        )
    return parse_meta(path.read_bytes(), str(path))
