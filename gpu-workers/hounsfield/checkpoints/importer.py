"""Saving a legacy checkpoint in this format through the SDK (locally, or as the platform's import job)."""

from __future__ import annotations

from pathlib import Path

from hounsfield.checkpoints.legacy_import import FormatChoice, LegacyCheckpoint, read_legacy
from hounsfield.sdk import Run
from hounsfield.sdk.checkpoint import save_checkpoint


def save_imported(run: Run, legacy: LegacyCheckpoint, source_name: str, step: int | None = None) -> Path:
    """Writes ``legacy`` as a checkpoint of ``run`` (step: given, else the file's, else 0)."""
    chosen = step if step is not None else legacy.step if legacy.step is not None else 0
    source = {
        "kind": legacy.kind,
        "file": source_name[:256],
        "sha256": legacy.sha256,
        "devices": legacy.devices[:64],
    }
    return save_checkpoint(
        run.checkpoint_context(),
        legacy.state,
        chosen,
        epoch=legacy.epoch,
        metrics=legacy.metrics,
        source=source,
    )


def import_to_directory(
    source: Path,
    out: Path,
    *,
    format: FormatChoice = "auto",
    step: int | None = None,
    trust_pickled: bool = False,
) -> Path:
    """Converts one legacy file into ``out/checkpoints/step-…/`` (no platform needed) and returns it."""
    legacy = read_legacy(source, format, trust_pickled=trust_pickled)
    run = Run.from_env(output_dir=out, handle_sigterm=False, environ={})
    try:
        return save_imported(run, legacy, source.name, step)
    finally:
        run.close()
