"""PVCNN point/voxel operations in pure PyTorch (CPU and CUDA, no custom kernels).

Each op reproduces the semantics of the CUDA kernels in ``mit-han-lab/pvcnn``
(``modules/functional/src``), which PCDiff (Friedrich et al., MICCAI 2023) uses unchanged.
Coordinates are ``(B, 3, N)`` and features ``(B, C, N)``; indices are int64. Pairwise ops work
in chunks under a memory budget (:mod:`hounsfield.ops.pairwise`). Slow loop references used by
the tests and the benchmark live in :mod:`hounsfield.ops.reference`.
"""

from hounsfield.ops.ball_query import ball_query, group_points
from hounsfield.ops.interpolation import (
    interpolate_features,
    nearest_neighbor_interpolate,
    three_nearest_neighbors,
)
from hounsfield.ops.pairwise import DEFAULT_MAX_PAIRS
from hounsfield.ops.sampling import farthest_point_sample, gather_points
from hounsfield.ops.voxelize import avg_voxelize, normalize_voxel_coords, trilinear_devoxelize, voxelize

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "avg_voxelize",
    "ball_query",
    "farthest_point_sample",
    "gather_points",
    "group_points",
    "interpolate_features",
    "nearest_neighbor_interpolate",
    "normalize_voxel_coords",
    "three_nearest_neighbors",
    "trilinear_devoxelize",
    "voxelize",
]
