"""Three-nearest-neighbour search and interpolation against the loop references."""

import numpy as np
import torch

from hounsfield.ops import interpolate_features, nearest_neighbor_interpolate, three_nearest_neighbors
from hounsfield.ops.reference import interpolate_features_loop, three_nearest_neighbors_loop


def _rand(seed: int, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_three_nearest_neighbors_match_kernel_indices_and_weights() -> None:
    points, centers = _rand(0, 2, 3, 150), _rand(1, 2, 3, 20)
    idx, w = three_nearest_neighbors(points, centers)
    ref_idx, ref_w = three_nearest_neighbors_loop(points, centers)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w.sum(1), torch.ones(2, 150))


def test_weights_are_inverse_squared_distances() -> None:
    points, centers = _rand(2, 1, 3, 5), _rand(3, 1, 3, 7)
    idx, w = three_nearest_neighbors(points, centers)
    d2 = ((points[0, :, None, :] - centers[0][:, idx[0]]) ** 2).sum(0)  # (3, N)
    expected = (1 / d2) / (1 / d2).sum(0, keepdim=True)
    torch.testing.assert_close(w[0], expected, rtol=1e-5, atol=1e-6)


def test_coincident_points_ties_and_too_few_centres_follow_the_kernel() -> None:
    centers = torch.tensor([[[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    points = torch.tensor([[[0.0, 0.5, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])  # on a centre; ties
    idx, w = three_nearest_neighbors(points, centers)
    ref_idx, ref_w = three_nearest_neighbors_loop(points, centers)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-5)
    assert idx[0, :, 0].tolist() == [0, 2, 1], "duplicate centres keep index order"
    assert w[0, 0, 0] + w[0, 1, 0] > 0.999999, "a point on two equal centres splits its weight"
    for m in (1, 2):
        idx, w = three_nearest_neighbors(points, centers[:, :, :m])
        ref_idx, ref_w = three_nearest_neighbors_loop(points, centers[:, :, :m])
        np.testing.assert_array_equal(idx.numpy(), ref_idx)
        np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-5)


def test_chunked_search_equals_single_pass() -> None:
    points, centers = _rand(4, 2, 3, 97), _rand(5, 2, 3, 13)
    whole = three_nearest_neighbors(points, centers)
    chunked = three_nearest_neighbors(points, centers, max_pairs=2 * 13 * 5)
    assert torch.equal(whole[0], chunked[0]) and torch.equal(whole[1], chunked[1])


def test_interpolation_values_and_gradients() -> None:
    points, centers = _rand(6, 2, 3, 60), _rand(7, 2, 3, 9)
    feats = torch.randn(2, 4, 9, generator=torch.Generator().manual_seed(8))
    got = nearest_neighbor_interpolate(points, centers, feats)
    idx, w = three_nearest_neighbors_loop(points, centers)
    np.testing.assert_allclose(got.numpy(), interpolate_features_loop(feats, idx, w), atol=1e-5)
    feats64 = feats.double().requires_grad_(True)
    i, wt = three_nearest_neighbors(points, centers)
    assert torch.autograd.gradcheck(lambda f: interpolate_features(f, i, wt), (feats64,))
