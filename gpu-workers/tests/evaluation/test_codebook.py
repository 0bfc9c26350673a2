"""Codebook perplexity and usage against the direct formulas."""

import math

import numpy as np
import pytest
import torch

from hounsfield.evaluation import EvaluationError, EvaluationErrorCode, codebook_perplexity, codebook_usage


def test_perplexity_matches_entropy_formula(rng: np.random.Generator) -> None:
    indices = rng.integers(0, 40, size=(4, 8, 8, 8))
    counts = [int((indices == k).sum()) for k in range(64)]
    entropy = -sum(c / indices.size * math.log(c / indices.size) for c in counts if c)
    assert codebook_perplexity(indices, 64) == pytest.approx(math.exp(entropy), rel=1e-12)
    assert codebook_usage(indices, 64) == sum(1 for c in counts if c) / 64


def test_extremes() -> None:
    assert codebook_perplexity(np.arange(16), 16) == pytest.approx(16.0)
    assert codebook_usage(np.arange(16), 16) == 1.0
    assert codebook_perplexity(np.full(100, 3), 16) == 1.0
    assert codebook_usage(np.full(100, 3), 16) == 1 / 16


def test_no_indices() -> None:
    assert codebook_perplexity(np.array([], dtype=np.int64), 8) == 0.0
    assert codebook_usage(np.array([], dtype=np.int64), 8) == 0.0


def test_accepts_cpu_tensors() -> None:
    assert codebook_usage(torch.tensor([[0, 1], [1, 1]]), 4) == 0.5


@pytest.mark.parametrize("bad", [[-1, 0], [0, 8]])
def test_refuses_out_of_range_indices(bad: list[int]) -> None:
    with pytest.raises(EvaluationError) as raised:
        codebook_perplexity(np.array(bad), 8)
    assert raised.value.code is EvaluationErrorCode.INDEX_OUT_OF_RANGE
