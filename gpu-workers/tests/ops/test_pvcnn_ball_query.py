"""Ball query and grouping against the kernel-style loop references."""

import numpy as np
import torch

from hounsfield.ops import ball_query, group_points
from hounsfield.ops.reference import ball_query_loop, group_points_loop


def _cloud(seed: int, batch: int, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, n, generator=g)


def test_ball_query_returns_first_hits_in_point_order_like_the_kernel() -> None:
    points = _cloud(0, 2, 200)
    centers = torch.cat([points[:, :, :30], torch.full((2, 3, 1), 5.0)], dim=2)  # last one is isolated
    got = ball_query(centers, points, radius=0.2, num_neighbors=8)
    want = ball_query_loop(centers, points, 0.2, 8)
    np.testing.assert_array_equal(got.numpy(), want)
    assert (got[:, -1] == 0).all(), "a centre with no neighbour gets index 0 everywhere"


def test_ball_query_pads_with_the_first_hit_when_fewer_than_k_points_are_inside() -> None:
    points = _cloud(1, 1, 64)
    centers = points[:, :, :10]
    got = ball_query(centers, points, radius=0.15, num_neighbors=32)
    np.testing.assert_array_equal(got.numpy(), ball_query_loop(centers, points, 0.15, 32))
    hits = (torch.cdist(centers.transpose(1, 2), points.transpose(1, 2)) < 0.15).sum(-1)
    assert (hits < 32).all()
    for j in range(10):
        h = int(hits[0, j])
        assert (got[0, j, h:] == got[0, j, 0]).all()


def test_ball_query_is_not_k_nearest_when_the_ball_holds_more_than_k_points() -> None:
    points = _cloud(2, 1, 100)
    centers = points[:, :, 50:51]
    got = ball_query(centers, points, radius=10.0, num_neighbors=5)
    assert got[0, 0].tolist() == [0, 1, 2, 3, 4]


def test_ball_query_chunks_give_the_same_answer_as_one_pass() -> None:
    points = _cloud(3, 2, 150)
    centers = _cloud(4, 2, 41)
    whole = ball_query(centers, points, radius=0.3, num_neighbors=16)
    chunked = ball_query(centers, points, radius=0.3, num_neighbors=16, max_pairs=7 * 2 * 150)
    assert torch.equal(whole, chunked)
    np.testing.assert_array_equal(whole.numpy(), ball_query_loop(centers, points, 0.3, 16))


def test_group_points_matches_loop_and_backpropagates_to_features() -> None:
    points = _cloud(5, 2, 80)
    features = torch.randn(2, 5, 80, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    idx = ball_query(points[:, :, :12], points, radius=0.3, num_neighbors=6)
    got = group_points(features, idx)
    np.testing.assert_allclose(got.numpy(), group_points_loop(features, idx.numpy()), atol=1e-5)
    features.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: group_points(f, idx), (features,))
