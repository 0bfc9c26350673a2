"""Cached dense surface samples of mask files (mesh once, sample many times)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hounsfield.data.coordinates import BoxNormalisation
from hounsfield.data.npz_cache import Arrays, NpzCache
from hounsfield.data.surface import SurfaceSamples, extract_surface, sample_surface
from hounsfield.data.volume_io import read_mask

# Bump when the meaning of stored arrays changes, so old cache entries are not reused.
_FORMAT_VERSION = 1


class DenseSamplingConfig(BaseModel):
    """How densely each surface is sampled before per-item subsampling (PCDiff used 400k)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_dense: int = Field(default=400_000, gt=0)
    seed: int = 0


@dataclass(frozen=True)
class DenseSurface:
    """Dense samples of one mask file plus the volume geometry they came from."""

    samples: SurfaceSamples
    spacing_mm: tuple[float, float, float]
    volume_shape: tuple[int, int, int]

    def normalisation(self, target_half_extent: float) -> BoxNormalisation:
        """This surface's bounding-box normalisation (see ``coordinates``)."""
        return BoxNormalisation.from_bbox(
            self.samples.bbox_min_mm,
            self.samples.bbox_max_mm,
            self.spacing_mm,
            self.volume_shape,
            target_half_extent,
        )


class DenseSurfaceSampler:
    """Reads a mask, meshes it and samples it densely, once per (file, mtime, size, config)."""

    def __init__(self, config: DenseSamplingConfig, cache_dir: Path | None = None) -> None:
        self.config = config
        self.cache = NpzCache(cache_dir) if cache_dir is not None else None

    def load(self, path: Path) -> DenseSurface:
        params = {"version": _FORMAT_VERSION, **self.config.model_dump()}
        if self.cache is None:
            arrays = self._compute(path)
        else:
            arrays = self.cache.get_or_compute("surface", [path], params, lambda: self._compute(path))
        spacing = arrays["spacing_mm"].astype(np.float64)
        shape = arrays["volume_shape"].astype(np.int64)
        return DenseSurface(
            samples=SurfaceSamples(
                points_mm=arrays["points_mm"].astype(np.float32, copy=False),
                normals=arrays["normals"].astype(np.float32, copy=False),
                bbox_min_mm=arrays["bbox_min_mm"].astype(np.float64, copy=False),
                bbox_max_mm=arrays["bbox_max_mm"].astype(np.float64, copy=False),
            ),
            spacing_mm=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
            volume_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        )

    def _compute(self, path: Path) -> Arrays:
        mask, spacing = read_mask(path)
        rng = np.random.default_rng(self.config.seed)
        samples = sample_surface(extract_surface(mask, spacing), self.config.n_dense, rng)
        return {
            "points_mm": samples.points_mm,
            "normals": samples.normals,
            "bbox_min_mm": samples.bbox_min_mm,
            "bbox_max_mm": samples.bbox_max_mm,
            "spacing_mm": np.asarray(spacing, dtype=np.float64),
            "volume_shape": np.asarray(mask.shape, dtype=np.int64),
        }
