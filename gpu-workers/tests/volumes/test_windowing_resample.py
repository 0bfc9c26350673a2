"""HU windowing against hand-computed values; resampling against an analytic linear field."""

from __future__ import annotations

import numpy as np
import pytest

from hounsfield.data.volumes import ImageVolume, Window, apply_window, resample_to_spacing
from hounsfield.data.volumes.windowing import invert_window


def test_lung_window_clips_and_scales() -> None:
    hu = np.array([-2000.0, -1350.0, -600.0, 150.0, 3000.0])  # lung: level -600, width 1500
    assert apply_window(hu, "lung") == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
    assert apply_window(hu, "lung", "-1,1") == pytest.approx([-1.0, -1.0, 0.0, 1.0, 1.0])
    custom = Window(level=0.0, width=100.0)
    assert apply_window(np.array([-25.0]), custom) == pytest.approx([0.25])
    assert invert_window(apply_window(np.array([-300.0]), "lung", "-1,1"), "lung", "-1,1") == pytest.approx(
        [-300.0]
    )


def test_unknown_window_lists_the_presets() -> None:
    with pytest.raises(ValueError, match="choose from full, lung"):
        apply_window(np.zeros(2), "lungs")


def test_resampling_a_linear_field_keeps_it_at_the_new_voxel_centres() -> None:
    spacing = (1.0, 2.0, 3.0)
    shape = (20, 10, 8)
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    affine = np.diag([*spacing, 1.0])
    # a field linear in world position: resampling must reproduce it exactly away from the borders
    field = (0.5 * i * spacing[0] - 0.25 * j * spacing[1] + 0.1 * k * spacing[2]).astype(np.float32)
    out = resample_to_spacing(ImageVolume(field, spacing, affine), (2.0, 1.0, 1.5))
    assert out.shape == (10, 20, 16)
    assert out.spacing == pytest.approx((2.0, 1.0, 1.5))
    oi, oj, ok = np.meshgrid(*(np.arange(n) for n in out.shape), indexing="ij")
    world = (
        np.einsum("ab,bxyz->axyz", out.affine[:3, :3], np.stack([oi, oj, ok]))
        + out.affine[:3, 3, None, None, None]
    )
    expected = 0.5 * world[0] - 0.25 * world[1] + 0.1 * world[2]
    inner = (slice(1, -1),) * 3
    assert np.abs(out.data[inner] - expected[inner]).max() < 1e-4
    # the physical extent is unchanged
    assert np.array(out.shape) * np.array(out.spacing) == pytest.approx(np.array(shape) * np.array(spacing))
