"""Thick/thin pairs: slab averaging and subsampling against a direct loop, presets, geometry errors."""

from __future__ import annotations

import numpy as np
import pytest

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.recipes.slice_interp.pairs import PAIR_PRESETS, PairGeometry, make_pair, pair_starts, thicken


def _volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 100.0, size=shape).astype(np.float32)


def test_slab_average_matches_a_direct_loop() -> None:
    geometry = PairGeometry(thin_spacing_mm=1.0, thick_spacing_mm=5.0, in_plane=(8, 12), thin_slices=20)
    volume = _volume((8, 12, 27))
    pair = make_pair(volume, (0.7, 0.7, 1.0), geometry, z_start=3)
    assert pair.thin.shape == (8, 12, 20) and pair.thick.shape == (8, 12, 4)
    np.testing.assert_array_equal(pair.thin, volume[:, :, 3:23])
    for k in range(4):
        expected = sum(volume[:, :, 3 + 5 * k + j].astype(np.float64) for j in range(5)) / 5
        np.testing.assert_allclose(pair.thick[:, :, k], expected, rtol=0, atol=1e-4)


def test_subsampling_takes_each_slab_centre() -> None:
    geometry = PairGeometry(1.0, 3.0, (4, 4), thin_slices=12, mode="subsample")
    volume = np.broadcast_to(np.arange(30, dtype=np.float32), (4, 4, 30)).copy()
    pair = make_pair(volume, (1.0, 1.0, 1.0), geometry, z_start=0)
    np.testing.assert_array_equal(pair.thick[0, 0], [1.0, 4.0, 7.0, 10.0])


def test_default_pair_is_the_centred_block_and_starts_tile_the_volume() -> None:
    geometry = PAIR_PRESETS["cpu-tiny"]
    assert (geometry.thin_slices, geometry.thick_slices, geometry.in_plane) == (40, 8, (32, 32))
    volume = _volume((32, 32, 90))
    assert pair_starts(90, geometry) == [5, 45]
    assert make_pair(volume, (1.0, 1.0, 1.0), geometry).z_start == 5
    assert pair_starts(39, geometry) == []


def test_paper_preset_geometry() -> None:
    paper = PAIR_PRESETS["paper"]
    assert (paper.factor, paper.thick_slices, paper.thin_slices, paper.in_plane) == (5, 60, 300, (512, 512))


def test_thicken_of_a_linear_ramp_is_the_slab_centre_value() -> None:
    ramp = np.arange(20, dtype=np.float32)
    np.testing.assert_allclose(thicken(ramp, 4), [1.5, 5.5, 9.5, 13.5, 17.5])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"thick_spacing_mm": 2.5}, "thick_spacing_mm"),
        ({"thin_slices": 42}, "thin_slices"),
        ({"thin_slices": 30}, "thin_slices"),
        ({"in_plane": (30, 32)}, "in_plane"),
    ],
)
def test_geometry_that_does_not_divide_names_the_field(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "thin_spacing_mm": 1.0,
        "thick_spacing_mm": 5.0,
        "in_plane": (32, 32),
        "thin_slices": 40,
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match=field):
        PairGeometry(**values)  # type: ignore[arg-type]


def test_volumes_that_do_not_fit_are_refused_with_the_field() -> None:
    geometry = PAIR_PRESETS["cpu-tiny"]
    with pytest.raises(DataError, match="thin_spacing_mm") as spacing:
        make_pair(_volume((32, 32, 60)), (1.0, 1.0, 2.0), geometry)
    assert spacing.value.code is DataErrorCode.SPACING_MISMATCH
    with pytest.raises(DataError, match="in_plane"):
        make_pair(_volume((32, 28, 60)), (1.0, 1.0, 1.0), geometry)
    with pytest.raises(DataError, match="thin_slices") as short:
        make_pair(_volume((32, 32, 30)), (1.0, 1.0, 1.0), geometry)
    assert short.value.code is DataErrorCode.TOO_SMALL
    with pytest.raises(DataError, match="z_start"):
        make_pair(_volume((32, 32, 60)), (1.0, 1.0, 1.0), geometry, z_start=30)
