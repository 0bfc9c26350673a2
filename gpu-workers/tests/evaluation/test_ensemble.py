"""Majority vote against a voxel-by-voxel loop."""

import itertools

import numpy as np
import pytest

from hounsfield.evaluation import EvaluationError, EvaluationErrorCode, majority_vote


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_matches_voxel_loop(rng: np.random.Generator, n: int) -> None:
    masks = [rng.uniform(size=(5, 6, 7)) > 0.5 for _ in range(n)]
    voted = majority_vote(masks)
    for voxel in itertools.product(*(range(s) for s in voted.shape)):
        votes = sum(bool(m[voxel]) for m in masks)
        assert voted[voxel] == (votes > n / 2)


def test_even_tie_is_background() -> None:
    a, b = np.zeros((2, 2, 2), dtype=bool), np.zeros((2, 2, 2), dtype=bool)
    a[0] = True
    b[:, 0] = True
    voted = majority_vote([a, b, a, b])
    assert voted.sum() == 2  # only a ∩ b = [0, 0, :] has 4 of 4 votes; the rest are 2-2 ties or fewer
    assert voted[0, 0].all()


def test_single_mask_is_returned_as_is() -> None:
    mask = np.eye(3, dtype=bool)[None]
    assert np.array_equal(majority_vote([mask]), mask)


def test_refuses_no_masks_and_mismatched_shapes() -> None:
    with pytest.raises(EvaluationError) as raised:
        majority_vote([])
    assert raised.value.code is EvaluationErrorCode.INVALID_ARGUMENT
    with pytest.raises(EvaluationError) as raised:
        majority_vote([np.zeros((2, 2, 2)), np.zeros((2, 2, 3))])
    assert raised.value.code is EvaluationErrorCode.SHAPE_MISMATCH
