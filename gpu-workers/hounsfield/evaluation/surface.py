"""Object surfaces and surface-to-surface distances, defined as MedPy defines them for HD95."""

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from hounsfield.evaluation.inputs import BoolVolume, Spacing


def surface(mask: BoolVolume) -> BoolVolume:
    """Voxels of `mask` with a 6-neighbour (face neighbour) outside it.

    This is `mask XOR erosion(mask)` with the cross-shaped structuring element
    `generate_binary_structure(ndim, 1)`; voxels beyond the array count as background
    (`border_value=0`), so an object touching the array border has a surface there.
    """
    cross = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=cross, iterations=1, border_value=0)
    return mask & ~eroded


def directed_surface_distances(
    surface_from: BoolVolume, surface_to: BoolVolume, spacing: Spacing
) -> npt.NDArray[np.float64]:
    """Distance in mm from each voxel of `surface_from` to its nearest voxel of `surface_to`.

    `surface_to` must be non-empty. The exact Euclidean distance transform of its complement, with
    the per-axis `spacing`, holds at every voxel the distance to the nearest `surface_to` voxel.
    """
    to_nearest = ndimage.distance_transform_edt(~surface_to, sampling=spacing)
    return np.asarray(to_nearest[surface_from], dtype=np.float64)


def symmetric_surface_distances(a: BoolVolume, b: BoolVolume, spacing: Spacing) -> npt.NDArray[np.float64]:
    """Surface distances A→B and B→A pooled in one array; both masks must be non-empty."""
    surface_a, surface_b = surface(a), surface(b)
    return np.concatenate(
        (
            directed_surface_distances(surface_a, surface_b, spacing),
            directed_surface_distances(surface_b, surface_a, spacing),
        )
    )
