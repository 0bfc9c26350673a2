"""Job and evaluation spec files: YAML or JSON, with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from hounsfield_client.api import ClientError


def load_spec(path: Path) -> dict[str, Any]:
    """The mapping in `path` (`.json` parsed as JSON, anything else as YAML, a superset of JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ClientError(f"cannot read the spec file {path}: {error.strerror or error}") from error
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClientError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from error
    else:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
            problem = getattr(error, "problem", None) or str(error)
            raise ClientError(f"{where}: not valid YAML: {problem}") from error
    if not isinstance(value, dict):
        raise ClientError(
            f"{path}: a spec is a mapping of fields (name, kind, resources, …), not {type(value).__name__}"
        )
    return value
