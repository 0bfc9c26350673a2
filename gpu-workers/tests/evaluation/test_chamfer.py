"""Chamfer distance against an all-pairs numpy reference."""

import math

import numpy as np
import pytest

from hounsfield.evaluation import EvaluationError, EvaluationErrorCode, chamfer_distance


def all_pairs_chamfer(a: np.ndarray, b: np.ndarray) -> float:
    pairwise = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    return float(pairwise.min(axis=1).mean() + pairwise.min(axis=0).mean())


def test_matches_all_pairs_reference(rng: np.random.Generator) -> None:
    for n, m in [(1, 1), (7, 300), (500, 420)]:
        a, b = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)) + 0.3
        assert chamfer_distance(a, b) == pytest.approx(all_pairs_chamfer(a, b), rel=1e-12)


def test_chunking_does_not_change_the_value(rng: np.random.Generator) -> None:
    a, b = rng.uniform(size=(1000, 3)), rng.uniform(size=(800, 3))
    assert chamfer_distance(a, b, chunk_size=7) == pytest.approx(chamfer_distance(a, b), rel=1e-12)


def test_is_symmetric_and_zero_on_identical_sets(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(200, 3)), rng.normal(size=(150, 3))
    assert chamfer_distance(a, b) == pytest.approx(chamfer_distance(b, a), rel=1e-12)
    assert chamfer_distance(a, a) == 0.0


def test_known_value_uses_unsquared_distances() -> None:
    a = np.array([[0.0, 0.0, 0.0]])
    b = np.array([[3.0, 4.0, 0.0], [6.0, 8.0, 0.0]])
    # A→B: 5; B→A: (5 + 10) / 2.
    assert chamfer_distance(a, b) == pytest.approx(5.0 + 7.5)


def test_handles_thirty_thousand_points(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(30_000, 3)), rng.normal(size=(30_000, 3))
    assert 0.0 < chamfer_distance(a, b) < 1.0


def test_empty_sets() -> None:
    empty, one = np.zeros((0, 3)), np.ones((1, 3))
    assert chamfer_distance(empty, empty) == 0.0
    assert chamfer_distance(empty, one) == math.inf
    assert chamfer_distance(one, empty) == math.inf


def test_refuses_mismatched_dimensions() -> None:
    with pytest.raises(EvaluationError) as raised:
        chamfer_distance(np.zeros((3, 3)), np.zeros((3, 2)))
    assert raised.value.code is EvaluationErrorCode.SHAPE_MISMATCH
