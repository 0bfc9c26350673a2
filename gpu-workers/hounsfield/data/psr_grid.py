"""Resampling between a case's voxel volume and the PSR grid (frames in ``coordinates``).

Both directions are axis-aligned affine maps, so ``scipy.ndimage.affine_transform`` with a
diagonal matrix does the trilinear resampling without building coordinate arrays; the output is
produced in slabs so that a 512^3 volume needs only a few slabs of scratch memory.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from hounsfield.data.coordinates import DEFAULT_PSR_HALF_EXTENT, BoxNormalisation

PSR_INSIDE = -0.5
PSR_OUTSIDE = 0.5
_SLAB = 32


def psr_target(
    mask: npt.NDArray[np.generic],
    normalisation: BoxNormalisation,
    resolution: int,
    psr_half_extent: float = DEFAULT_PSR_HALF_EXTENT,
) -> npt.NDArray[np.float32]:
    """Ground-truth indicator on the PSR grid: -0.5 inside ``mask``, +0.5 outside (psr_l2 target).

    Grid node ``g`` (at ``u = g / R``) is inside when the trilinearly interpolated mask is >= 0.5
    there, which is the same boundary marching cubes draws at level 0.5.
    """
    h, s = psr_half_extent, normalisation.scale_mm
    centre, spacing = np.asarray(normalisation.centre_mm), np.asarray(normalisation.spacing_mm)
    scale = np.full(3, 2.0 * h * s / resolution) / spacing
    offset = (centre - h * s) / spacing
    # uint8 input keeps a 512^3 mask at 128 MiB; interpolation itself runs in floating point.
    binary = np.asarray(np.asarray(mask) != 0, dtype=np.uint8)
    occupancy = _resample(binary, scale, offset, (resolution,) * 3, mode="constant")
    return np.where(occupancy >= 0.5, PSR_INSIDE, PSR_OUTSIDE).astype(np.float32)


def field_to_volume(
    field: npt.NDArray[np.floating],
    normalisation: BoxNormalisation,
    psr_half_extent: float = DEFAULT_PSR_HALF_EXTENT,
) -> npt.NDArray[np.float32]:
    """Trilinearly resample a PSR-grid field (shape ``(R, R, R)``) onto the case's voxel grid."""
    resolution = np.asarray(field.shape, dtype=np.float64)
    h, s = psr_half_extent, normalisation.scale_mm
    centre, spacing = np.asarray(normalisation.centre_mm), np.asarray(normalisation.spacing_mm)
    scale = spacing * resolution / (2.0 * h * s)
    offset = resolution * (0.5 - centre / (2.0 * h * s))
    # Beyond the PSR cube the nearest border value (outside, ~+0.5) is the right continuation.
    return _resample(
        np.asarray(field, dtype=np.float32), scale, offset, normalisation.volume_shape, mode="nearest"
    )


def field_to_occupancy(
    field: npt.NDArray[np.floating],
    normalisation: BoxNormalisation,
    psr_half_extent: float = DEFAULT_PSR_HALF_EXTENT,
) -> npt.NDArray[np.bool_]:
    """Occupancy (field <= 0) of a PSR-grid field in the case's original voxel frame."""
    return field_to_volume(field, normalisation, psr_half_extent) <= 0.0


def _resample(
    source: npt.NDArray[np.generic],
    scale: npt.NDArray[np.float64],
    offset: npt.NDArray[np.float64],
    out_shape: tuple[int, ...],
    mode: str,
) -> npt.NDArray[np.float32]:
    """``out[o] = source(scale * o + offset)`` (trilinear), computed in slabs along axis 0."""
    out = np.empty(out_shape, dtype=np.float32)
    for start in range(0, out_shape[0], _SLAB):
        stop = min(start + _SLAB, out_shape[0])
        slab_offset = offset.copy()
        slab_offset[0] += scale[0] * start
        ndimage.affine_transform(
            source,
            scale,
            offset=slab_offset,
            output_shape=(stop - start, *out_shape[1:]),
            output=out[start:stop],
            order=1,
            mode=mode,
            cval=0.0,
        )
    return out
