"""Which gateway and which token: environment first, then `hounsfield login`'s file, then the local stack.

- URL: HOUNSFIELD_URL, else the URL saved by `login`, else http://127.0.0.1:8080 (`npm start`).
- Token: HOUNSFIELD_TOKEN, else the token saved by `login`, else the local stack's admin token
  (`$HOUNSFIELD_HOME/admin-token`, `.hounsfield/admin-token` under the current directory).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None
    token_source: str


def credentials_path() -> Path:
    """`$HOUNSFIELD_CONFIG_DIR/credentials.json` (default `~/.config/hounsfield/`)."""
    base = os.environ.get("HOUNSFIELD_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config"), "hounsfield"
    )
    return Path(base) / "credentials.json"


def _saved() -> dict[str, str]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def settings(url: str | None = None) -> Settings:
    saved = _saved()
    resolved = url or os.environ.get("HOUNSFIELD_URL") or saved.get("url") or DEFAULT_URL
    if os.environ.get("HOUNSFIELD_TOKEN"):
        return Settings(resolved, os.environ["HOUNSFIELD_TOKEN"], "HOUNSFIELD_TOKEN")
    if saved.get("token") and saved.get("url", resolved).rstrip("/") == resolved.rstrip("/"):
        return Settings(resolved, saved["token"], str(credentials_path()))
    stack_token = Path(os.environ.get("HOUNSFIELD_HOME") or ".hounsfield") / "admin-token"
    if stack_token.is_file():
        return Settings(resolved, stack_token.read_text(encoding="utf-8").strip(), str(stack_token))
    return Settings(resolved, None, "none")


def save_credentials(url: str, token: str) -> Path:
    """Writes the file readable by its owner only (0600), created that way so it is never briefly open."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"url": url.rstrip("/"), "token": token}, file)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
