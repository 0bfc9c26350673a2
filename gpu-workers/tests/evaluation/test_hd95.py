"""HD95 against brute-force surface distances, MedPy, and its own full-volume path."""

import itertools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from medpy.metric import binary as medpy_binary

from hounsfield.evaluation import hd95

BlobFactory = Callable[[tuple[int, ...]], npt.NDArray[np.bool_]]
ANISOTROPIC = (0.4, 0.7, 1.3)


def brute_force_surface(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Coordinates of mask voxels with a face neighbour outside the mask or outside the volume."""
    surface = []
    for voxel in np.argwhere(mask):
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            neighbour = voxel.copy()
            neighbour[axis] += step
            outside = neighbour[axis] < 0 or neighbour[axis] >= mask.shape[axis]
            if outside or not mask[tuple(neighbour)]:
                surface.append(voxel)
                break
    return np.array(surface, dtype=np.int64).reshape(-1, mask.ndim)


def brute_force_hd95(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_], spacing: tuple[float, ...]) -> float:
    sa = brute_force_surface(a) * np.asarray(spacing)
    sb = brute_force_surface(b) * np.asarray(spacing)
    pairwise = np.sqrt(((sa[:, None, :] - sb[None, :, :]) ** 2).sum(axis=-1))
    return float(np.percentile(np.concatenate((pairwise.min(axis=1), pairwise.min(axis=0))), 95))


def test_matches_brute_force_surface_distances(random_blob: BlobFactory) -> None:
    for _ in range(12):
        a, b = random_blob((14, 12, 16)), random_blob((14, 12, 16))
        assert hd95(a, b, ANISOTROPIC) == pytest.approx(brute_force_hd95(a, b, ANISOTROPIC), abs=1e-9)


def test_matches_medpy_with_anisotropic_spacing(random_blob: BlobFactory) -> None:
    for spacing in (ANISOTROPIC, (1.0, 1.0, 1.0), (0.5, 0.5, 2.0)):
        for _ in range(15):
            a, b = random_blob((20, 18, 22)), random_blob((20, 18, 22))
            assert hd95(a, b, spacing) == pytest.approx(medpy_binary.hd95(a, b, spacing), abs=1e-9)


def test_crop_equals_full_volume_exactly(random_blob: BlobFactory, rng: np.random.Generator) -> None:
    for _ in range(60):
        shape = tuple(int(n) for n in rng.integers(3, 26, size=3))
        spacing = tuple(float(s) for s in rng.uniform(0.3, 1.6, size=3))
        a, b = random_blob(shape), random_blob(shape)
        assert hd95(a, b, spacing) == hd95(a, b, spacing, crop=False)


def test_crop_equals_full_volume_for_masks_touching_the_border(rng: np.random.Generator) -> None:
    shape = (16, 14, 12)
    full = np.ones(shape, dtype=bool)
    face = np.zeros(shape, dtype=bool)
    face[0] = True
    corner = np.zeros(shape, dtype=bool)
    corner[-1, -1, -1] = True
    slab = np.zeros(shape, dtype=bool)
    slab[:, :4, :] = True
    cases = [full, face, corner, slab]
    for a, b in itertools.product(cases, cases):
        assert hd95(a, b, ANISOTROPIC) == hd95(a, b, ANISOTROPIC, crop=False)
        if a.any() and b.any():
            assert hd95(a, b, ANISOTROPIC) == pytest.approx(medpy_binary.hd95(a, b, ANISOTROPIC), abs=1e-9)


def test_small_object_in_large_volume_crop_equals_full(random_blob: BlobFactory) -> None:
    a, b = np.zeros((60, 50, 40), dtype=bool), np.zeros((60, 50, 40), dtype=bool)
    a[30:42, 10:22, 25:37] = random_blob((12, 12, 12))
    b[32:44, 11:23, 24:36] = random_blob((12, 12, 12))
    assert hd95(a, b, ANISOTROPIC) == hd95(a, b, ANISOTROPIC, crop=False)


def test_both_empty_is_zero() -> None:
    empty = np.zeros((8, 8, 8), dtype=bool)
    assert hd95(empty, empty, ANISOTROPIC) == 0.0


@pytest.mark.parametrize("empty_side", ["pred", "ref"])
def test_one_empty_is_the_volume_diagonal(empty_side: str) -> None:
    shape = (10, 20, 30)
    mask = np.zeros(shape, dtype=bool)
    mask[4, 5, 6] = True
    empty = np.zeros(shape, dtype=bool)
    pred, ref = (empty, mask) if empty_side == "pred" else (mask, empty)
    expected = math.sqrt((9 * 0.4) ** 2 + (19 * 0.7) ** 2 + (29 * 1.3) ** 2)
    assert hd95(pred, ref, ANISOTROPIC) == pytest.approx(expected, abs=1e-12)
    assert hd95(pred, ref, ANISOTROPIC, crop=False) == hd95(pred, ref, ANISOTROPIC)


def test_single_voxels() -> None:
    a, b = np.zeros((9, 9, 9), dtype=bool), np.zeros((9, 9, 9), dtype=bool)
    a[0, 0, 0] = True
    assert hd95(a, a, ANISOTROPIC) == 0.0
    b[3, 4, 8] = True
    expected = math.sqrt((3 * 0.4) ** 2 + (4 * 0.7) ** 2 + (8 * 1.3) ** 2)
    assert hd95(a, b, ANISOTROPIC) == pytest.approx(expected, abs=1e-12)


def test_scalar_spacing_and_non_boolean_input() -> None:
    a, b = np.zeros((9, 9, 9), dtype=np.uint8), np.zeros((9, 9, 9), dtype=np.float32)
    a[2:5, 2:5, 2:5] = 7
    b[3:7, 2:5, 2:5] = 0.5
    assert hd95(a, b, 0.5) == hd95(a.astype(bool), b.astype(bool), (0.5, 0.5, 0.5))


def test_numpy_scalar_and_array_spacings_agree() -> None:
    a, b = np.zeros((9, 9, 9), dtype=bool), np.zeros((9, 9, 9), dtype=bool)
    a[1:4, 1:4, 1:4] = True
    b[4:8, 2:5, 1:4] = True
    expected = hd95(a, b, (0.5, 0.5, 0.5))
    assert hd95(a, b, np.float32(0.5)) == expected
    assert hd95(a, b, np.array([0.5, 0.5, 0.5])) == expected
