"""Dice and boundary Dice against MedPy, brute-force bands, and the full-volume path."""

import json
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from medpy.metric import binary as medpy_binary

from hounsfield.evaluation import EvaluationError, EvaluationErrorCode, boundary_dice, dice

BlobFactory = Callable[[tuple[int, ...]], npt.NDArray[np.bool_]]
ANISOTROPIC = (0.4, 0.7, 1.3)


def brute_force_boundary_dice(
    a: npt.NDArray[np.bool_],
    b: npt.NDArray[np.bool_],
    skull: npt.NDArray[np.bool_],
    spacing: tuple[float, ...],
    band_mm: float,
) -> float:
    """Band membership of every voxel of A ∪ B from all-pairs distances to the skull, then counting."""
    candidates = np.argwhere(a | b)
    skull_mm = np.argwhere(skull) * np.asarray(spacing)
    in_band = np.zeros(len(candidates), dtype=bool)
    if len(skull_mm) and len(candidates):
        diff = (candidates * np.asarray(spacing))[:, None, :] - skull_mm[None, :, :]
        in_band = np.sqrt((diff**2).sum(axis=-1)).min(axis=1) <= band_mm
    band = np.zeros(a.shape, dtype=bool)
    band[tuple(candidates[in_band].T)] = True
    pa, pb = a & band, b & band
    total = pa.sum() + pb.sum()
    return 1.0 if total == 0 else 2.0 * (pa & pb).sum() / total


def test_dice_matches_medpy(random_blob: BlobFactory) -> None:
    for _ in range(20):
        a, b = random_blob((16, 20, 12)), random_blob((16, 20, 12))
        assert dice(a, b) == pytest.approx(medpy_binary.dc(a, b), abs=1e-12)


def test_dice_by_counting() -> None:
    a, b = np.zeros((4, 4, 4), dtype=bool), np.zeros((4, 4, 4), dtype=bool)
    a[0, 0, :3] = True
    b[0, 0, 1:] = True
    assert dice(a, b) == pytest.approx(2 * 2 / 6)


def test_dice_edge_cases() -> None:
    empty, one = np.zeros((5, 5, 5), dtype=bool), np.zeros((5, 5, 5), dtype=bool)
    one[2, 2, 2] = True
    assert dice(empty, empty) == 1.0
    assert dice(one, empty) == 0.0
    assert dice(empty, one) == 0.0
    assert dice(one, one) == 1.0


def test_dice_refuses_shape_mismatch() -> None:
    with pytest.raises(EvaluationError) as raised:
        dice(np.zeros((3, 3, 3)), np.zeros((3, 3, 4)))
    assert raised.value.code is EvaluationErrorCode.SHAPE_MISMATCH


def test_boundary_dice_matches_brute_force(random_blob: BlobFactory, rng: np.random.Generator) -> None:
    for _ in range(10):
        shape = (12, 14, 11)
        a, b, skull = random_blob(shape), random_blob(shape), random_blob(shape)
        band_mm = float(rng.uniform(0.0, 4.0))
        expected = brute_force_boundary_dice(a, b, skull, ANISOTROPIC, band_mm)
        assert boundary_dice(a, b, skull, ANISOTROPIC, band_mm) == pytest.approx(expected, abs=1e-12)


def test_boundary_dice_crop_equals_full_volume(random_blob: BlobFactory, rng: np.random.Generator) -> None:
    for _ in range(50):
        shape = tuple(int(n) for n in rng.integers(3, 28, size=3))
        spacing = tuple(float(s) for s in rng.uniform(0.3, 1.6, size=3))
        a, b, skull = random_blob(shape), random_blob(shape), random_blob(shape)
        for band_mm in (0.0, 1.0, 2.5, float(rng.uniform(0.1, 6.0))):
            cropped = boundary_dice(a, b, skull, spacing, band_mm)
            assert cropped == boundary_dice(a, b, skull, spacing, band_mm, crop=False)


def test_boundary_dice_crop_with_far_skull_and_exact_band_edges() -> None:
    """Skull voxels exactly band_mm away (on-grid distances) must be in the band on both paths."""
    shape = (40, 40, 40)
    skull = np.zeros(shape, dtype=bool)
    skull[:, :, 0] = True
    a, b = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    a[10:20, 10:20, 18:22] = True
    b[12:22, 10:20, 19:24] = True
    for band_mm in (9.0, 10.0, 10.5, 11.0):
        cropped = boundary_dice(a, b, skull, 0.5, band_mm)
        assert cropped == boundary_dice(a, b, skull, 0.5, band_mm, crop=False)
        assert cropped == pytest.approx(
            brute_force_boundary_dice(a, b, skull, (0.5,) * 3, band_mm), abs=1e-12
        )


def test_boundary_dice_edge_cases() -> None:
    shape = (20, 20, 20)
    skull, a = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    skull[0] = True
    a[15:18, 5:8, 5:8] = True
    empty = np.zeros(shape, dtype=bool)
    # Both masks empty, and masks entirely outside the band: nothing to compare.
    assert boundary_dice(empty, empty, skull, 1.0) == 1.0
    assert boundary_dice(a, a.copy(), skull, 1.0, band_mm=5.0) == 1.0
    assert boundary_dice(a, empty, skull, 1.0, band_mm=5.0) == 1.0
    # Empty skull: the band is empty.
    assert boundary_dice(a, empty, empty, 1.0) == 1.0
    # Only one mask reaches the band.
    near = np.zeros(shape, dtype=bool)
    near[2:4, 5:8, 5:8] = True
    assert boundary_dice(near, a, skull, 1.0, band_mm=5.0) == 0.0
    assert boundary_dice(near, empty, skull, 1.0, band_mm=5.0) == 0.0
    # Single voxel inside the band on both sides.
    one = np.zeros(shape, dtype=bool)
    one[1, 1, 1] = True
    assert boundary_dice(one, one.copy(), skull, 1.0) == 1.0


def test_boundary_dice_refuses_negative_band() -> None:
    mask = np.ones((4, 4, 4), dtype=bool)
    with pytest.raises(EvaluationError) as raised:
        boundary_dice(mask, mask, mask, 1.0, band_mm=-1.0)
    assert raised.value.code is EvaluationErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 0.0, 1.0), (1.0, float("nan"), 1.0)])
def test_boundary_dice_refuses_bad_spacing(spacing: tuple[float, ...]) -> None:
    mask = np.ones((4, 4, 4), dtype=bool)
    with pytest.raises(EvaluationError) as raised:
        boundary_dice(mask, mask, mask, spacing)
    assert raised.value.code is EvaluationErrorCode.INVALID_SPACING


def test_scores_are_plain_json_floats(random_blob: BlobFactory) -> None:
    a, b, skull = random_blob((10, 10, 10)), random_blob((10, 10, 10)), random_blob((10, 10, 10))
    scores = {"dsc": dice(a, b), "bdsc": boundary_dice(a, b, skull, ANISOTROPIC)}
    assert all(type(value) is float for value in scores.values())
    assert json.loads(json.dumps(scores)) == scores
