"""``python -m hounsfield.checkpoints.import_job``: the platform's legacy import, a built-in task.

The checkpoints service submits a ``checkpoint_import`` job after the legacy file was stored
(``POST /v1/checkpoints/import``); its payload names the import, not the file's location. The
worker agent runs this module with its NATS access: it asks the checkpoints service for a read
grant of the file over the worker's own subjects (only the worker the job is placed on gets one),
reads the file through it (a presigned URL, or a path on the shared filesystem), converts it on
the CPU with ``weights_only=True`` and saves it through the SDK, so the agent uploads and commits
it like any checkpoint: this job's committed checkpoint is the imported one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from hounsfield.checkpoints.importer import save_imported
from hounsfield.checkpoints.legacy_import import read_legacy
from hounsfield.contracts.models import AccessGrant1, AccessGrant2
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.checkpoint_transfer import get_part
from hounsfield.platform.nats import NatsAccess, connect_nats
from hounsfield.sdk import Run
from hounsfield.sdk.platform_env import ENV_CONTEXT, PlatformEnv

_log = logging.getLogger("hounsfield.checkpoints.import_job")


async def source_grant(
    import_id: str, job_id: str, worker_id: str, nats: NatsAccess
) -> AccessGrant1 | AccessGrant2:
    """The read grant of the import's file, asked for as this worker."""
    nc = await connect_nats(nats, f"import-{import_id}")
    try:
        return await CheckpointClient(nc, worker_id).import_source(import_id, job_id)
    finally:
        await nc.close()


def _local_copy(grant: AccessGrant1 | AccessGrant2, name: str, directory: Path) -> tuple[Path, bool]:
    """The file to read, and whether it is a temporary copy (a URL is downloaded, a path read in place)."""
    if isinstance(grant, AccessGrant2):
        return Path(grant.path), False
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (Path(name).name or "source")
    with target.open("wb") as handle:
        get_part(grant, handle)
    return target, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--import", dest="import_id", required=True, help="the import id (imp-…)")
    parser.add_argument("--name", required=True, help="the file's original name")
    parser.add_argument("--format", choices=["auto", "pth", "lightning"], default="auto")
    parser.add_argument("--step", type=int, default=None, help="step to record when the file does not say")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = PlatformEnv.read()
    if env.job_id is None or env.worker_id is None:
        parser.error(f"run by a worker agent: {ENV_CONTEXT} names no attempt")

    grant = asyncio.run(source_grant(args.import_id, env.job_id, env.worker_id, NatsAccess.from_env()))
    with Run.from_env() as run:
        path, temporary = _local_copy(grant, args.name, run.output_dir / "source")
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
