"""The CT volumes the volume recipes (vqgan3d, slice_interp) train on: a prepared dataset of a
directory of volumes, or CT phantoms made first.

Rank 0 generates the phantoms if asked and prepares the dataset (``hounsfield.data.volumes.prepare``,
again only when the manifest is missing or stale) while the other ranks wait at a barrier; every
rank then reads the same manifest, so every rank trains on identical case lists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hounsfield.data.ct_phantoms import write_phantom_dataset
from hounsfield.data.patches import Shape3
from hounsfield.data.volumes.prepare import (
    VolumeManifest,
    VolumePrepareConfig,
    ensure_prepared,
    load_manifest,
)
from hounsfield.trainers.ddp import DistributedContext, barrier
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

_log = logging.getLogger(__name__)

PHANTOM_DIR = "ct-phantoms"
PREPARED_DIR = "dataset"


class _VolumeSettings(Protocol):
    @property
    def prepared_dir(self) -> Path | None: ...


class VolumeRecipeConfig(Protocol):
    """What a volume recipe's config says about its data (vqgan3d's and slice_interp's do)."""

    @property
    def data_root(self) -> Path | None: ...

    @property
    def volumes(self) -> _VolumeSettings: ...


@dataclass(frozen=True)
class Phantoms:
    """CT phantom patients to generate when no dataset root is given."""

    subjects: int
    shape: Shape3
    seed: int


def prepared_volumes(
    config: VolumeRecipeConfig,
    phantoms: Phantoms | None,
    prepare: VolumePrepareConfig,
    output_dir: Path,
    context: DistributedContext,
    *,
    expects: str = "CT volumes",
) -> tuple[Path, VolumeManifest]:
    """The prepared directory and its manifest, the same on every rank: of ``config.data_root``, or
    of ``phantoms`` generated under ``output_dir`` first; ``expects`` names what a data root holds."""
    data_root, prepared_dir = config.data_root, config.volumes.prepared_dir
    if data_root is None and phantoms is None:
        raise TrainerError(
            TrainerErrorCode.MISSING_DATA,
            f"no dataRoot given; give a directory of {expects} (one folder per patient) "
            "or phantoms with --synthetic N / config synthetic: {subjects: N}",
        )
    root = data_root if data_root is not None else output_dir / PHANTOM_DIR
    prepared = prepared_dir or output_dir / PREPARED_DIR
    if context.is_main:
        if data_root is None and phantoms is not None and not root.is_dir():
            _log.info("generating %d CT phantom patients %s in %s", phantoms.subjects, phantoms.shape, root)
            write_phantom_dataset(root, phantoms.subjects, shape=phantoms.shape, seed=phantoms.seed)
        if not root.is_dir():
            raise TrainerError(TrainerErrorCode.MISSING_DATA, f"dataRoot {root} is not a directory")
        manifest = ensure_prepared(root, prepared, prepare)
        _log.info(
            "dataset %s: %d usable volumes, %d excluded, split %s",
            root,
            len(manifest.cases),
            len(manifest.excluded),
            manifest.split_counts,
        )
    barrier(context)
    return prepared, load_manifest(prepared)
