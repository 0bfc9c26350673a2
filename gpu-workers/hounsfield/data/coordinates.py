"""Coordinate frames shared by the skull loaders, the diffusion model and the voxelizer.

Four frames, each an axis-aligned affine map of the previous one (per array axis ``d``):

1. **voxel index** ``v``: continuous index into ``data[i, j, k]`` as returned by ``volume_io``;
   integer values are voxel centres, so a volume of shape ``S`` covers ``[-0.5, S - 0.5]``.
2. **volume mm** ``p``: ``p_d = v_d * spacing_d``. The origin is the centre of voxel
   ``(0, 0, 0)``; the file's space origin and direction cosines are deliberately ignored so that
   anisotropic volumes (SkullFix) keep their geometry without resampling.
3. **normalised** ``x`` (what the point-cloud diffusion model sees):
   ``x = (p - centre) / scale`` where ``centre`` is the midpoint of the DEFECTIVE skull's surface
   bounding box (mm) and ``scale = longest_side / 2 / target_half_extent``. With the PCDiff
   default ``target_half_extent = 3`` the defective skull spans ``[-3, 3]`` along its longest
   axis. The same box is used in training and in testing; the implant and the complete skull
   may reach slightly outside it.
4. **PSR unit cube** ``u`` (what the voxelization network and DPSR see):
   ``u = x / (2 * psr_half_extent) + 0.5``. The PSR grid of resolution ``R`` has node ``g`` at
   ``u = g / R`` (Shape-as-Points convention, periodic). ``psr_half_extent`` (default 4) is
   larger than ``target_half_extent`` to leave room for the implant and for the periodic
   boundary of the spectral solver.

Going back from generated points to the volume is ``normalised_to_voxel`` (continuous) or
``normalised_to_voxel_indices`` (rounded, clipped to the volume).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field

ArrayT = TypeVar("ArrayT", npt.NDArray[np.floating[Any]], torch.Tensor)

PCDIFF_TARGET_HALF_EXTENT = 3.0
DEFAULT_PSR_HALF_EXTENT = 4.0


class BoxNormalisation(BaseModel):
    """Bounding-box normalisation of one case, with what is needed to map back to voxels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    centre_mm: tuple[float, float, float]
    scale_mm: float = Field(gt=0)
    spacing_mm: tuple[float, float, float]
    volume_shape: tuple[int, int, int]

    @classmethod
    def from_bbox(
        cls,
        bbox_min_mm: npt.ArrayLike,
        bbox_max_mm: npt.ArrayLike,
        spacing_mm: tuple[float, float, float],
        volume_shape: tuple[int, int, int],
        target_half_extent: float = PCDIFF_TARGET_HALF_EXTENT,
    ) -> BoxNormalisation:
        """Normalisation that maps the box centre to 0 and its longest half side to ``target_half_extent``."""
        lo = np.asarray(bbox_min_mm, dtype=np.float64)
        hi = np.asarray(bbox_max_mm, dtype=np.float64)
        centre = (lo + hi) / 2.0
        scale = float(np.max(hi - lo)) / 2.0 / target_half_extent
        return cls(
            centre_mm=(float(centre[0]), float(centre[1]), float(centre[2])),
            scale_mm=scale,
            spacing_mm=spacing_mm,
            volume_shape=volume_shape,
        )

    @classmethod
    def from_batch(cls, batch: Mapping[str, Any], index: int = 0) -> BoxNormalisation:
        """Rebuild one case's normalisation from a (collated or single) dataset item."""

        def row(key: str, item_ndim: int) -> list[float]:
            value = torch.as_tensor(batch[key])
            if value.ndim > item_ndim:  # collated: the first axis is the batch
                value = value[index]
            return [float(v) for v in value.reshape(-1)]

        centre, spacing, shape = row("centre_mm", 1), row("spacing_mm", 1), row("volume_shape", 1)
        return cls(
            centre_mm=(centre[0], centre[1], centre[2]),
            scale_mm=row("scale_mm", 0)[0],
            spacing_mm=(spacing[0], spacing[1], spacing[2]),
            volume_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        )

    def as_tensors(self) -> dict[str, torch.Tensor]:
        """The fields as float64 tensors (what dataset items carry, so that they collate)."""
        return {
            "centre_mm": torch.tensor(self.centre_mm, dtype=torch.float64),
            "scale_mm": torch.tensor(self.scale_mm, dtype=torch.float64),
            "spacing_mm": torch.tensor(self.spacing_mm, dtype=torch.float64),
            "volume_shape": torch.tensor(self.volume_shape, dtype=torch.int64),
        }

    def mm_to_normalised(self, p_mm: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return (np.asarray(p_mm, dtype=np.float64) - np.asarray(self.centre_mm)) / self.scale_mm

    def normalised_to_mm(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.asarray(x, dtype=np.float64) * self.scale_mm + np.asarray(self.centre_mm)

    def voxel_to_normalised(self, v: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self.mm_to_normalised(voxel_to_mm(v, self.spacing_mm))

    def normalised_to_voxel(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Continuous voxel indices of normalised points."""
        return mm_to_voxel(self.normalised_to_mm(x), self.spacing_mm)

    def normalised_to_voxel_indices(self, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Nearest voxel of each normalised point, clipped into the volume."""
        v = np.rint(self.normalised_to_voxel(x)).astype(np.int64)
        return np.clip(v, 0, np.asarray(self.volume_shape) - 1)


def voxel_to_mm(v: npt.ArrayLike, spacing_mm: tuple[float, float, float]) -> npt.NDArray[np.float64]:
    return np.asarray(v, dtype=np.float64) * np.asarray(spacing_mm)


def mm_to_voxel(p_mm: npt.ArrayLike, spacing_mm: tuple[float, float, float]) -> npt.NDArray[np.float64]:
    return np.asarray(p_mm, dtype=np.float64) / np.asarray(spacing_mm)


def normalised_to_psr(x: ArrayT, psr_half_extent: float = DEFAULT_PSR_HALF_EXTENT) -> ArrayT:
    """Normalised frame -> PSR unit cube."""
    return x / (2.0 * psr_half_extent) + 0.5


def psr_to_normalised(u: ArrayT, psr_half_extent: float = DEFAULT_PSR_HALF_EXTENT) -> ArrayT:
    """PSR unit cube -> normalised frame."""
    return (u - 0.5) * (2.0 * psr_half_extent)
