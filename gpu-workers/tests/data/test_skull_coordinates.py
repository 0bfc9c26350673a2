"""Voxel <-> mm <-> normalised <-> PSR frames: definitions and round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from hounsfield.data.coordinates import BoxNormalisation, normalised_to_psr, psr_to_normalised


def _norm() -> BoxNormalisation:
    return BoxNormalisation.from_bbox(
        bbox_min_mm=[10.0, 20.0, 5.0],
        bbox_max_mm=[70.0, 100.0, 45.0],
        spacing_mm=(0.5, 0.8, 1.25),
        volume_shape=(160, 140, 50),
    )


def test_box_maps_to_pcdiff_range_on_longest_axis() -> None:
    norm = _norm()
    assert norm.centre_mm == pytest.approx((40.0, 60.0, 25.0))
    corners = norm.mm_to_normalised([[10.0, 20.0, 5.0], [70.0, 100.0, 45.0]])
    np.testing.assert_allclose(corners[:, 1], [-3.0, 3.0])  # the 80 mm axis
    np.testing.assert_allclose(corners[:, 0], [-60 / 80 * 3, 60 / 80 * 3])  # isotropic scale


def test_round_trips() -> None:
    norm = _norm()
    rng = np.random.default_rng(0)
    voxels = rng.uniform(0, [159, 139, 49], size=(500, 3))
    np.testing.assert_allclose(norm.normalised_to_voxel(norm.voxel_to_normalised(voxels)), voxels, atol=1e-9)
    x = rng.uniform(-3, 3, size=(500, 3))
    np.testing.assert_allclose(norm.voxel_to_normalised(norm.normalised_to_voxel(x)), x, atol=1e-12)
    np.testing.assert_allclose(psr_to_normalised(normalised_to_psr(x, 4.0), 4.0), x, atol=1e-12)
    xt = torch.from_numpy(x)
    torch.testing.assert_close(psr_to_normalised(normalised_to_psr(xt)), xt)


def test_frames_by_hand() -> None:
    norm = _norm()
    # voxel (80, 75, 20) -> mm (40, 60, 25) = box centre -> normalised 0 -> PSR cube centre
    np.testing.assert_allclose(norm.voxel_to_normalised([80, 75, 20]), [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(normalised_to_psr(np.array([0.0, -4.0, 2.0]), 4.0), [0.5, 0.0, 0.75])
    scale = 80 / 2 / 3
    np.testing.assert_allclose(norm.normalised_to_voxel([1.0, 0, 0]), [(40 + scale) / 0.5, 75, 20])


def test_voxel_indices_are_rounded_and_clipped() -> None:
    norm = _norm()
    inside = norm.voxel_to_normalised([[3.4, 7.6, 10.0]])
    outside = norm.voxel_to_normalised([[-5.0, 500.0, 49.4]])
    np.testing.assert_array_equal(norm.normalised_to_voxel_indices(inside), [[3, 8, 10]])
    np.testing.assert_array_equal(norm.normalised_to_voxel_indices(outside), [[0, 139, 49]])


def test_from_batch_recovers_each_item_of_a_collated_batch() -> None:
    other = BoxNormalisation.from_bbox([0, 0, 0], [30, 20, 10], (1.0, 1.0, 2.0), (40, 30, 12))
    items = [n.as_tensors() for n in (_norm(), other)]
    batch = default_collate(items)
    assert BoxNormalisation.from_batch(batch, 0) == _norm()
    assert BoxNormalisation.from_batch(batch, 1) == other
    assert BoxNormalisation.from_batch(items[1]) == other
    assert BoxNormalisation.model_validate_json(other.model_dump_json()) == other
