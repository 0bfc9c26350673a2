"""Torch datasets over SkullBreak / SkullFix cases (find cases with ``cases.discover_cases`` or
``prepare.load_split_cases``; both layouts yield the same ``SkullCase`` and use these datasets).

``SkullCompletionDataset`` feeds the point-cloud diffusion model: per item, defective-skull and
implant points drawn with replacement from cached dense surface samples (a fresh draw every time
the item is loaded), normalised by the DEFECTIVE skull's bounding box in training and testing.

``SkullVoxelizationDataset`` feeds the voxelization network: complete-skull points with their
mesh normals in the same normalised frame, and the ground-truth PSR grid (-0.5 inside the complete
skull, +0.5 outside) on the PSR cube around that frame.

Every item carries ``centre_mm``, ``scale_mm``, ``spacing_mm`` and ``volume_shape`` so that
``BoxNormalisation.from_batch(batch, i)`` maps generated points back to voxels (see ``coordinates``).
Random draws use torch's generator, which ``DataLoader`` seeds differently in every worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import Dataset

from hounsfield.data.cases import SkullCase
from hounsfield.data.coordinates import (
    DEFAULT_PSR_HALF_EXTENT,
    PCDIFF_TARGET_HALF_EXTENT,
    BoxNormalisation,
)
from hounsfield.data.dense_samples import DenseSamplingConfig, DenseSurface, DenseSurfaceSampler
from hounsfield.data.npz_cache import NpzCache
from hounsfield.data.psr_grid import PSR_INSIDE, PSR_OUTSIDE, psr_target
from hounsfield.data.volume_io import read_mask

Item = dict[str, Any]


class CompletionSamplingConfig(BaseModel):
    """Point counts of one diffusion sample (paper: 27,648 defective + 3,072 implant = 30,720)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_defective: int = Field(default=27_648, gt=0)
    n_implant: int = Field(default=3_072, gt=0)
    target_half_extent: float = Field(default=PCDIFF_TARGET_HALF_EXTENT, gt=0)
    dense: DenseSamplingConfig = DenseSamplingConfig()

    @classmethod
    def preset(cls, name: Literal["paper", "cpu-tiny"]) -> CompletionSamplingConfig:
        """``paper``: 30,720 points; ``cpu-tiny``: 2,048 points (same 9:1 ratio)."""
        if name == "paper":
            return cls()
        return cls(n_defective=1_843, n_implant=205, dense=DenseSamplingConfig(n_dense=20_000))


class VoxelizationSamplingConfig(BaseModel):
    """Inputs and targets of the voxelization network."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_points: int = Field(default=30_720, gt=0)
    psr_resolution: int = Field(default=512, gt=1)
    psr_half_extent: float = Field(default=DEFAULT_PSR_HALF_EXTENT, gt=0)
    target_half_extent: float = Field(default=PCDIFF_TARGET_HALF_EXTENT, gt=0)
    box_from: Literal["defective", "complete"] = "defective"
    dense: DenseSamplingConfig = DenseSamplingConfig()


class SkullCompletionDataset(Dataset[Item]):
    """Items for the diffusion model; see the module docstring."""

    def __init__(
        self,
        cases: Sequence[SkullCase],
        config: CompletionSamplingConfig | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.cases = list(cases)
        self.config = config or CompletionSamplingConfig()
        self.sampler = DenseSurfaceSampler(self.config.dense, cache_dir)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> Item:
        case = self.cases[index]
        defective = self.sampler.load(case.defective_path)
        implant = self.sampler.load(case.implant_path)
        norm = defective.normalisation(self.config.target_half_extent)
        return {
            "defective_points": _draw(defective, self.config.n_defective, norm)[0],
            "implant_points": _draw(implant, self.config.n_implant, norm)[0],
            **norm.as_tensors(),
            "case_id": case.case_id,
            "defect_class": case.defect_class,
            "index": index,
        }


class SkullVoxelizationDataset(Dataset[Item]):
    """Items for the voxelization network; see the module docstring."""

    def __init__(
        self,
        cases: Sequence[SkullCase],
        config: VoxelizationSamplingConfig | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.cases = list(cases)
        self.config = config or VoxelizationSamplingConfig()
        self.sampler = DenseSurfaceSampler(self.config.dense, cache_dir)
        self.cache = NpzCache(cache_dir) if cache_dir is not None else None

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> Item:
        case = self.cases[index]
        complete = self.sampler.load(case.complete_path)
        box_source = (
            complete if self.config.box_from == "complete" else self.sampler.load(case.defective_path)
        )
        norm = box_source.normalisation(self.config.target_half_extent)
        points, normals = _draw(complete, self.config.n_points, norm)
        return {
            "points": points,
            "normals": normals,
            "gt_psr": torch.from_numpy(self._target(case, norm)),
            **norm.as_tensors(),
            "case_id": case.case_id,
            "defect_class": case.defect_class,
            "index": index,
        }

    def _target(self, case: SkullCase, norm: BoxNormalisation) -> np.ndarray:
        resolution = self.config.psr_resolution

        def compute() -> dict[str, np.ndarray]:
            mask, _spacing = read_mask(case.complete_path)
            grid = psr_target(mask, norm, resolution, self.config.psr_half_extent)
            # A 512^3 float grid is 512 MiB; one bit per node is all the target needs.
            return {"inside_bits": np.packbits(grid < 0)}

        if self.cache is None:
            bits = compute()["inside_bits"]
        else:
            sources = [case.complete_path, case.defective_path]
            params = {"resolution": resolution, "psr": self.config.psr_half_extent, "norm": norm.model_dump()}
            bits = self.cache.get_or_compute("psr", sources, params, compute)["inside_bits"]
        inside = np.unpackbits(bits, count=resolution**3).reshape((resolution,) * 3).astype(bool)
        return np.where(inside, PSR_INSIDE, PSR_OUTSIDE).astype(np.float32)


def _draw(surface: DenseSurface, count: int, norm: BoxNormalisation) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` samples with replacement: normalised points (float32) and unit normals."""
    available = surface.samples.points_mm.shape[0]
    pick = torch.randint(available, (count,)).numpy()
    points = norm.mm_to_normalised(surface.samples.points_mm[pick]).astype(np.float32)
    # Normalisation is an isotropic scale plus a shift, so normals are unchanged.
    return torch.from_numpy(points), torch.from_numpy(np.ascontiguousarray(surface.samples.normals[pick]))
