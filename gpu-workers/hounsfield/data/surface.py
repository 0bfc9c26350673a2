"""Surface extraction (marching cubes) and area-weighted dense surface sampling of binary masks.

All coordinates are in volume mm (see ``coordinates``): vertex ``v`` of voxel index ``i`` lies at
``i * spacing``. Normals are unit vectors pointing out of the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from skimage import measure

from hounsfield.data.errors import DataError, DataErrorCode

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SurfaceMesh:
    """Triangle mesh in volume mm with faces wound so that their normals point outwards."""

    vertices_mm: npt.NDArray[np.float64]
    faces: npt.NDArray[np.int64]


@dataclass(frozen=True)
class SurfaceSamples:
    """Dense surface samples of one mask: points (mm), outward unit normals and the mesh's box."""

    points_mm: FloatArray
    normals: FloatArray
    bbox_min_mm: npt.NDArray[np.float64]
    bbox_max_mm: npt.NDArray[np.float64]


def extract_surface(mask: npt.NDArray[np.generic], spacing_mm: tuple[float, float, float]) -> SurfaceMesh:
    """Marching cubes at level 0.5 of a binary mask; the mask is zero-padded so every surface closes."""
    binary = np.asarray(mask) != 0
    if not binary.any():
        raise DataError(DataErrorCode.EMPTY_MASK, "cannot extract a surface from an empty mask")
    # Crop to the mask's box (plus one voxel) first: skull masks fill a fraction of a 512^3 volume.
    lo, hi = mask_bounding_box(binary)
    crop = binary[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    padded = np.pad(crop, 1).astype(np.float32)
    verts, faces, _normals, _values = measure.marching_cubes(padded, level=0.5)
    # skimage winds faces so that the right-hand normal points into the mask; flip to outwards.
    faces = faces[:, ::-1]
    vertices_index = verts.astype(np.float64) + (lo - 1)  # undo crop and padding
    return SurfaceMesh(
        vertices_mm=vertices_index * np.asarray(spacing_mm, dtype=np.float64),
        faces=np.ascontiguousarray(faces, dtype=np.int64),
    )


def mask_bounding_box(binary: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index box ``[lo, hi)`` of the non-zero voxels of a non-empty 3-D mask."""
    lo, hi = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        occupied = np.flatnonzero(binary.any(axis=other))
        lo[axis], hi[axis] = occupied[0], occupied[-1] + 1
    return lo, hi


def sample_surface(mesh: SurfaceMesh, n_samples: int, rng: np.random.Generator) -> SurfaceSamples:
    """Uniform samples on the mesh surface: a face chosen with probability ∝ area, then a uniform
    barycentric point in it; the normal is that face's outward normal."""
    tri = mesh.vertices_mm[mesh.faces]  # (F, 3 corners, 3 coords)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    keep = double_area > 0
    if not keep.any():
        raise DataError(DataErrorCode.NO_SURFACE, "mesh has no triangle with positive area")
    tri, cross, double_area = tri[keep], cross[keep], double_area[keep]
    face = rng.choice(len(tri), size=n_samples, p=double_area / double_area.sum())
    # Folding the unit square onto the triangle gives uniform barycentric coordinates.
    r1, r2 = rng.random(n_samples), rng.random(n_samples)
    flip = r1 + r2 > 1.0
    r1[flip], r2[flip] = 1.0 - r1[flip], 1.0 - r2[flip]
    t = tri[face]
    points = t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])
    normals = cross[face] / double_area[face, None]
    return SurfaceSamples(
        points_mm=points.astype(np.float32),
        normals=normals.astype(np.float32),
        bbox_min_mm=mesh.vertices_mm.min(axis=0),
        bbox_max_mm=mesh.vertices_mm.max(axis=0),
    )
