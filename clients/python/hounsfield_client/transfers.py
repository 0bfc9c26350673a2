"""Checkpoint downloads through the gateway, each file verified against the checkpoint's manifest."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from hounsfield_client.api import ClientError, Gateway


def download_checkpoint(gateway: Gateway, ref: str, out: Path) -> tuple[dict[str, Any], Path]:
    """Writes `<out>/<checkpoint id>/<file>` for every file; a size or sha256 mismatch is an error.

    Each file is streamed to `<name>.hf-part` and renamed only once its bytes match, so a broken
    download never leaves a file that looks complete.
    """
    record = gateway.checkpoint(ref)
    target = out / record["id"]
    target.mkdir(parents=True, exist_ok=True)
    for file in record["files"]:
        name = file["name"]
        if "/" in name or "\\" in name or name in (".", ".."):
            raise ClientError(
                f"checkpoint {record['id']} names a file {name!r} that is not a plain file name"
            )
        partial = target / f"{name}.hf-part"
        digest = hashlib.sha256()
        size = 0
        with gateway.checkpoint_file(record["id"], name) as response, partial.open("wb") as sink:
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
        if size != file["size"] or digest.hexdigest() != file["sha256"]:
            partial.unlink(missing_ok=True)
            raise ClientError(
                f"{name} of checkpoint {record['id']} arrived with {size} bytes and sha256 "
                f"{digest.hexdigest()}; its manifest says {file['size']} bytes, {file['sha256']}. "
                "Nothing was kept; download it again."
            )
        os.replace(partial, target / name)
    return record, target
