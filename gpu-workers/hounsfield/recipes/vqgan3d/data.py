"""The vqgan3d data: prepared CT volumes (or phantoms made first) cut into training patches.

Every rank reads the same prepared manifest (``hounsfield.recipes.volume_cases``). Training items
are every patch of the patch grid of every training volume (volume-major, grid order), read from
the memory-mapped prepared arrays, so the global-order sampler decides the order and a resume on
another world size continues it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hounsfield.data.patches import PatchGrid, Shape3
from hounsfield.data.prepare import SplitFractions
from hounsfield.data.volumes.prepare import VolumeCase, VolumeManifest, VolumePrepareConfig
from hounsfield.recipes.volume_cases import Phantoms, prepared_volumes
from hounsfield.recipes.vqgan3d.config import VQGAN3DConfig
from hounsfield.trainers.ddp import DistributedContext

_log = logging.getLogger(__name__)


def prepare_config(config: VQGAN3DConfig) -> VolumePrepareConfig:
    volumes = config.volumes
    return VolumePrepareConfig(
        window=volumes.window,
        output_range=volumes.output_range,
        target_spacing=volumes.target_spacing,
        min_shape=volumes.patch,  # a volume smaller than one patch is excluded with that reason
        tiff_spacing=volumes.tiff_spacing,
        patient_pattern=volumes.patient_pattern,
        patient_csv=volumes.patient_csv,
        split_csv=config.split_csv,
        fractions=SplitFractions(train=0.6, val=0.2, test=0.2),
        seed=config.seed,
    )


def prepared_dataset(
    config: VQGAN3DConfig, output_dir: Path, context: DistributedContext
) -> tuple[Path, VolumeManifest]:
    """The prepared directory and its manifest, the same on every rank."""
    s = config.synthetic
    phantoms = None
    if s is not None:  # the phantoms' field of view is 512 × 512 × 604 (isotropic voxels)
        phantoms = Phantoms(s.subjects, (s.shape, s.shape, round(s.shape * 604 / 512)), s.seed)
    prepare = prepare_config(config)
    expects = "CT volumes (NIfTI/NRRD/TIFF/DICOM)"
    return prepared_volumes(config, phantoms, prepare, output_dir, context, expects=expects)


class PatchDataset(Dataset[dict[str, Tensor]]):
    """Every grid patch of ``cases`` as ``{"volume": 1×X×Y×Z float32}``."""

    def __init__(self, prepared: Path, cases: list[VolumeCase], patch: Shape3, stride: Shape3) -> None:
        self.paths = [prepared / c.prepared for c in cases]
        self.index: list[tuple[int, Shape3]] = []
        self.grids = [PatchGrid.of(c.shape, patch, stride) for c in cases]
        for case_index, grid in enumerate(self.grids):
            self.index += [(case_index, position) for position in grid.positions()]
        self._arrays: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        case_index, position = self.index[item]
        array = self._arrays.get(case_index)
        if array is None:
            array = self._arrays[case_index] = np.load(self.paths[case_index], mmap_mode="r")
        patch = np.array(array[self.grids[case_index].slices(position)], dtype=np.float32)
        return {"volume": torch.from_numpy(patch)[None]}


def load_volume(prepared: Path, case: VolumeCase) -> Tensor:
    """A whole prepared volume as ``1×1×X×Y×Z`` float32 on the CPU."""
    return torch.from_numpy(np.load(prepared / case.prepared).astype(np.float32))[None, None]
