"""Farthest point sampling and gathering against the loop references."""

import numpy as np
import torch

from hounsfield.ops import farthest_point_sample, gather_points
from hounsfield.ops.reference import farthest_point_sample_loop


def test_farthest_point_sampling_matches_the_kernel_order() -> None:
    coords = torch.rand(2, 3, 300, generator=torch.Generator().manual_seed(0))
    got = farthest_point_sample(coords, 40)
    np.testing.assert_array_equal(got.numpy(), farthest_point_sample_loop(coords, 40))
    assert (got[:, 0] == 0).all(), "sampling starts at point 0"
    assert all(len(set(row.tolist())) == 40 for row in got)


def test_farthest_point_sampling_beyond_n_repeats_index_zero() -> None:
    coords = torch.rand(1, 3, 6, generator=torch.Generator().manual_seed(1))
    got = farthest_point_sample(coords, 9)
    np.testing.assert_array_equal(got.numpy(), farthest_point_sample_loop(coords, 9))
    assert sorted(got[0, :6].tolist()) == list(range(6))
    assert got[0, 6:].tolist() == [0, 0, 0]


def test_gather_points_picks_columns_and_backpropagates() -> None:
    features = torch.randn(2, 4, 10, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[3, 1, 1], [0, 9, 2]])
    got = gather_points(features, idx)
    for b in range(2):
        for j in range(3):
            assert torch.equal(got[b, :, j], features[b, :, idx[b, j]])
    assert torch.autograd.gradcheck(lambda f: gather_points(f, idx), (features,))
