"""Resampling a canonical volume to a target voxel spacing.

The output grid covers the same physical extent: ``n_out = round(n_in * spacing_in / target)``
voxels per axis, whose edges line up with the input's outer edges, so the effective output spacing
is ``n_in * spacing_in / n_out`` (equal to the target up to the rounding of the voxel count). Values
are interpolated with scipy (``order`` 1 = trilinear, 0 = nearest for label maps, 3 = cubic).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hounsfield.data.volumes.io import ImageVolume, Spacing


def resampled_shape(shape: tuple[int, int, int], spacing: Spacing, target: Spacing) -> tuple[int, int, int]:
    """Voxel counts of the resampled grid (at least one per axis)."""
    if any(t <= 0 for t in target):
        raise ValueError(f"target spacing must be > 0 mm on every axis, got {target}")
    n = [max(1, int(round(s * sp / t))) for s, sp, t in zip(shape, spacing, target, strict=True)]
    return (n[0], n[1], n[2])


def resample_to_spacing(volume: ImageVolume, target: Spacing, *, order: int = 1) -> ImageVolume:
    """``volume`` on a grid of ``target`` spacing (mm), same physical extent and orientation."""
    shape = resampled_shape(volume.shape, volume.spacing, target)
    data = volume.array(np.float32)
    zoom = [o / i for o, i in zip(shape, volume.shape, strict=True)]
    out = ndimage.zoom(data, zoom, order=order, mode="nearest", grid_mode=True)
    factors = np.array([i / o for i, o in zip(volume.shape, shape, strict=True)])  # input voxels per output
    affine = volume.affine.copy()
    affine[:3, :3] = volume.affine[:3, :3] * factors
    # the centre of output voxel 0 is at input index (factor - 1) / 2
    affine[:3, 3] = volume.affine[:3, :3] @ ((factors - 1) / 2) + volume.affine[:3, 3]
    spacing = tuple(float(s * f) for s, f in zip(volume.spacing, factors, strict=True))
    return ImageVolume(data=out, spacing=(spacing[0], spacing[1], spacing[2]), affine=affine)
