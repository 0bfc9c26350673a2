"""Implant post-processing: each step, the crop, and the fallback when cleaning empties the mask."""

import numpy as np
import numpy.typing as npt
import pydantic
import pytest
from scipy import ndimage

from hounsfield.evaluation import PostprocessOptions, PostprocessStep, postprocess_implant

ALL_STEPS = tuple(PostprocessStep)


def straightforward_pipeline(
    mask: npt.NDArray[np.bool_], points: npt.NDArray[np.float64], opts: PostprocessOptions
) -> npt.NDArray[np.bool_]:
    """The same steps on the whole volume, padded with background so the border plays no role."""
    pad = 10
    work = np.pad(mask, pad)
    coords = np.argwhere(work) - pad
    distances = np.sqrt(((coords[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)).min(axis=1)
    near = np.zeros_like(work)
    kept = coords[distances <= opts.max_point_distance_vox] + pad
    near[tuple(kept.T)] = True
    cross = ndimage.generate_binary_structure(3, 1)
    work = ndimage.binary_opening(near, structure=cross, iterations=opts.opening_iterations)
    labels, _ = ndimage.label(work, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    work = labels == sizes.argmax()
    work = ndimage.median_filter(work.astype(np.uint8), size=opts.median_size).astype(bool)
    work = ndimage.binary_closing(work, structure=cross, iterations=opts.closing_iterations)
    work = ndimage.binary_fill_holes(work)
    return np.asarray(work[pad:-pad, pad:-pad, pad:-pad])


def noisy_implant(rng: np.random.Generator, shape: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
    """A thick curved plate with speckle, a hole and a detached fragment."""
    z, y, x = np.indices(shape)
    centre = np.array(shape) / 2
    radius = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x + 5.0) ** 2)
    plate = (np.abs(radius - shape[2] * 0.9) < 2.5) & (np.abs(z - centre[0]) < shape[0] / 3)
    speckle = rng.uniform(size=shape) < 0.03
    mask = plate ^ (speckle & ndimage.binary_dilation(plate, iterations=2))
    mask[2:4, 2:4, 2:4] = True
    return np.asarray(mask)


def test_matches_straightforward_full_volume_pipeline(rng: np.random.Generator) -> None:
    for shape in [(30, 32, 28), (24, 40, 36)]:
        mask = noisy_implant(rng, shape)
        points = np.argwhere(mask)[::3].astype(np.float64) + rng.uniform(-0.5, 0.5, size=(1, 3))
        opts = PostprocessOptions(max_point_distance_vox=1.5, closing_iterations=2)
        result = postprocess_implant(mask, points, opts)
        assert not result.fell_back
        assert result.steps_applied == ALL_STEPS
        assert np.array_equal(result.mask, straightforward_pipeline(mask, points, opts))


def test_near_points_keeps_voxels_within_the_threshold() -> None:
    mask = np.ones((6, 6, 6), dtype=bool)
    points = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    opts = PostprocessOptions(
        opening=False, largest_component=False, median=False, closing=False, fill_holes=False
    )
    result = postprocess_implant(mask, points, opts.model_copy(update={"max_point_distance_vox": 1.0}))
    assert result.steps_applied == (PostprocessStep.NEAR_POINTS,)
    assert result.mask.sum() == 2 * 4  # each corner plus its three face neighbours
    assert result.mask[0, 0, 0] and result.mask[5, 5, 4] and not result.mask[1, 1, 0]


def test_points_not_given_skips_that_step() -> None:
    mask = np.zeros((9, 9, 9), dtype=bool)
    mask[2:7, 2:7, 2:7] = True
    result = postprocess_implant(mask)
    assert result.steps_applied == ALL_STEPS[1:]
    assert not result.fell_back


def test_largest_component_and_hole_filling() -> None:
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[2:12, 2:12, 2:12] = True
    mask[5:8, 5:8, 5:8] = False  # cavity
    mask[15:17, 15:17, 15:17] = True  # fragment
    opts = PostprocessOptions(opening=False, median=False, closing=False)
    result = postprocess_implant(mask, None, opts)
    expected = np.zeros_like(mask)
    expected[2:12, 2:12, 2:12] = True
    assert np.array_equal(result.mask, expected)
    assert result.steps_applied == (PostprocessStep.LARGEST_COMPONENT, PostprocessStep.FILL_HOLES)


def test_closing_does_not_erode_the_volume_border() -> None:
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[0:4, :, 0:10] = True
    mask[1, 4, 2:8] = False  # a one-voxel tunnel the closing should seal
    opts = PostprocessOptions(opening=False, largest_component=False, median=False, fill_holes=False)
    result = postprocess_implant(mask, None, opts)
    expected = np.zeros_like(mask)
    expected[0:4] = True
    assert np.array_equal(result.mask, expected)
    # scipy's closing on the raw array would also strip the slab's faces on the volume border.
    raw = ndimage.binary_closing(mask, structure=ndimage.generate_binary_structure(3, 1))
    assert not raw[0].all()


def test_falls_back_when_opening_empties_the_mask(rng: np.random.Generator) -> None:
    mask = rng.uniform(size=(16, 16, 16)) < 0.02  # isolated voxels: opening removes them all
    result = postprocess_implant(mask)
    assert result.fell_back
    assert result.emptied_by is PostprocessStep.OPENING
    assert result.steps_applied == ()
    assert np.array_equal(result.mask, mask)


def test_falls_back_when_no_voxel_is_near_the_points() -> None:
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[2:6, 2:6, 2:6] = True
    for points in (np.array([[10.0, 10.0, 10.0]]), np.zeros((0, 3))):
        result = postprocess_implant(mask, points)
        assert result.fell_back
        assert result.emptied_by is PostprocessStep.NEAR_POINTS
        assert np.array_equal(result.mask, mask)


def test_empty_input_stays_empty_without_fallback() -> None:
    result = postprocess_implant(np.zeros((5, 5, 5), dtype=bool), np.ones((3, 3)))
    assert not result.fell_back
    assert not result.mask.any()
    assert result.steps_applied == ()


def test_options_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        PostprocessOptions(median_size=4)
    with pytest.raises(pydantic.ValidationError):
        PostprocessOptions.model_validate({"openning": False})
