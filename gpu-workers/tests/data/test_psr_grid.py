"""Ground-truth PSR grid and PSR field -> voxel occupancy, against analytic spheres."""

from __future__ import annotations

import numpy as np

from hounsfield.data.coordinates import BoxNormalisation, psr_to_normalised
from hounsfield.data.psr_grid import field_to_occupancy, psr_target


def _sphere_case() -> tuple[np.ndarray, BoxNormalisation, np.ndarray, float]:
    """A ball of radius 11 mm in an anisotropic 40x36x30 volume, and its normalisation."""
    spacing, shape = (1.0, 1.2, 1.5), (40, 36, 30)
    centre_mm = np.array([19.0, 21.0, 22.0])
    index = np.indices(shape).reshape(3, -1).T
    mm = index * np.asarray(spacing)
    mask = (np.linalg.norm(mm - centre_mm, axis=1) <= 11.0).reshape(shape)
    norm = BoxNormalisation.from_bbox(centre_mm - 11.0, centre_mm + 11.0, spacing, shape)
    return mask, norm, centre_mm, 11.0


def test_target_is_minus_half_inside_plus_half_outside() -> None:
    mask, norm, centre_mm, radius = _sphere_case()
    resolution, half = 24, 4.0
    target = psr_target(mask, norm, resolution, half)
    assert set(np.unique(target)) == {-0.5, 0.5}
    nodes = np.indices((resolution,) * 3).reshape(3, -1).T / resolution  # u = g / R
    node_mm = norm.normalised_to_mm(psr_to_normalised(nodes, half))
    distance = np.linalg.norm(node_mm - centre_mm, axis=1)
    inside = target.reshape(-1) < 0
    clear = np.abs(distance - radius) > 1.5  # away from the voxelised boundary
    np.testing.assert_array_equal(inside[clear], distance[clear] < radius)


def test_field_to_occupancy_lands_in_the_original_voxel_frame() -> None:
    mask, norm, centre_mm, radius = _sphere_case()
    resolution, half = 64, 4.0
    nodes = np.indices((resolution,) * 3).reshape(3, -1).T / resolution
    node_mm = norm.normalised_to_mm(psr_to_normalised(nodes, half))
    field = (np.linalg.norm(node_mm - centre_mm, axis=1) - radius).reshape((resolution,) * 3)
    occupancy = field_to_occupancy(field.astype(np.float32), norm, half)
    assert occupancy.shape == mask.shape
    dice = 2 * (occupancy & mask).sum() / (occupancy.sum() + mask.sum())
    assert dice > 0.99


def test_target_then_back_recovers_the_mask() -> None:
    mask, norm, _, _ = _sphere_case()
    target = psr_target(mask, norm, 48, 4.0)
    back = field_to_occupancy(target, norm, 4.0)
    dice = 2 * (back & mask).sum() / (back.sum() + mask.sum())
    assert dice > 0.97
