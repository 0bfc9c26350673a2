"""``python -m hounsfield.checkpoints.import_job``: the platform's legacy import, run as a CPU job.

The checkpoints service submits it after the legacy file was stored (``POST /v1/checkpoints/import``).
It reads the file through its grant (a presigned URL, or a path on the shared filesystem), converts
it on the CPU with ``weights_only=True`` and saves it through the SDK, so the worker agent uploads
and commits it like any checkpoint: this job's committed checkpoint is the imported one.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hounsfield.checkpoints.importer import save_imported
from hounsfield.checkpoints.legacy_import import read_legacy
from hounsfield.sdk import Run
from hounsfield.worker.checkpoint_transfer import get_url

_log = logging.getLogger("hounsfield.checkpoints.import_job")


def _local_copy(source: str, name: str, directory: Path) -> tuple[Path, bool]:
    """The file to read, and whether it is a temporary copy (a URL is downloaded, a path read in place)."""
    if not source.startswith(("http://", "https://")):
        return Path(source), False
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (Path(name).name or "source")
    with target.open("wb") as handle:
        get_url(source, handle)
    return target, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="presigned URL or path of the stored legacy file")
    parser.add_argument("--name", required=True, help="the file's original name")
    parser.add_argument("--format", choices=["auto", "pth", "lightning"], default="auto")
    parser.add_argument("--step", type=int, default=None, help="step to record when the file does not say")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    with Run.from_env() as run:
        path, temporary = _local_copy(args.source, args.name, run.output_dir / "source")
        try:
            legacy = read_legacy(path, args.format)
        finally:
            if temporary:
                path.unlink(missing_ok=True)
        _log.info(
            "%s: %s checkpoint, tensors saved on %s", args.name, legacy.kind, ", ".join(legacy.devices) or "-"
        )
        saved = save_imported(run, legacy, args.name, args.step)
        _log.info("imported as %s", saved)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
