"""Three-nearest-neighbour interpolation (PVCNN ``neighbor_interpolate.cu`` semantics)."""

import torch
from torch import Tensor

from hounsfield.ops.pairwise import DEFAULT_MAX_PAIRS, rows_per_chunk, squared_distance

# The kernel clamps each squared distance to [1e-10, 1e10] before inverting it: the lower bound
# keeps a point that coincides with a centre finite, the upper bound handles missing neighbours.
_MIN_SQ_DIST = 1e-10
_MAX_SQ_DIST = 1e10


def three_nearest_neighbors(
    points: Tensor, centers: Tensor, *, max_pairs: int = DEFAULT_MAX_PAIRS
) -> tuple[Tensor, Tensor]:
    """Indices ``(B, 3, N)`` and weights ``(B, 3, N)`` of each point's three nearest centres.

    Args:
        points: query coordinates ``(B, 3, N)``.
        centers: centre coordinates ``(B, 3, M)``.
        max_pairs: memory budget of one chunk of points (see :mod:`hounsfield.ops.pairwise`).

    Weights are inverse SQUARED distances, normalised to sum to one:
    ``w_i = (1/d_i^2) / sum_j (1/d_j^2)``, computed as the kernel does via pairwise products.
    Neighbours are ordered nearest first; ties keep the lower centre index (the kernel's strict
    ``<`` insertion). With fewer than three centres the missing slots get index 0 and the
    clamped distance 1e10, i.e. a negligible weight, exactly as in the kernel.
    """
    if points.dim() != 3 or centers.dim() != 3 or points.shape[1] != 3 or centers.shape[1] != 3:
        raise ValueError(
            f"expected (B, 3, N) points and (B, 3, M) centres, got {points.shape}, {centers.shape}"
        )
    batch, _, num_points = points.shape
    num_centers = centers.shape[2]
    indices = torch.empty(batch, 3, num_points, dtype=torch.long, device=points.device)
    sq_dists = torch.empty(batch, 3, num_points, dtype=points.dtype, device=points.device)
    step = rows_per_chunk(batch, num_points, num_centers, max_pairs)
    for start in range(0, num_points, step):
        stop = min(start + step, num_points)
        dist = squared_distance(points[:, :, start:stop], centers)  # (B, n, M)
        for slot in range(3):
            # argmin returns the first minimum, which reproduces the kernel's tie order.
            best = dist.argmin(dim=-1, keepdim=True)
            indices[:, slot, start:stop] = best[..., 0]
            sq_dists[:, slot, start:stop] = dist.gather(-1, best)[..., 0]
            dist.scatter_(-1, best, float("inf"))
    d = sq_dists.clamp(_MIN_SQ_DIST, _MAX_SQ_DIST)
    d0, d1, d2 = d[:, 0], d[:, 1], d[:, 2]
    d0d1, d0d2, d1d2 = d0 * d1, d0 * d2, d1 * d2
    inv = 1.0 / (d0d1 + d0d2 + d1d2)
    weights = torch.stack([d1d2 * inv, d0d2 * inv, d0d1 * inv], dim=1)
    return indices, weights


def interpolate_features(center_features: Tensor, indices: Tensor, weights: Tensor) -> Tensor:
    """Weighted sum ``(B, C, N)`` of ``center_features (B, C, M)`` at ``indices``/``weights (B, 3, N)``.

    Differentiable in ``center_features``; weights are treated as constants, as in the kernel.
    """
    batch, channels, _ = center_features.shape
    num_points = indices.shape[2]
    flat = indices.reshape(batch, 1, 3 * num_points).expand(batch, channels, 3 * num_points)
    gathered = center_features.gather(2, flat).view(batch, channels, 3, num_points)
    w = weights.detach().to(center_features.dtype)[:, None]
    return gathered[:, :, 0] * w[:, :, 0] + gathered[:, :, 1] * w[:, :, 1] + gathered[:, :, 2] * w[:, :, 2]


def nearest_neighbor_interpolate(
    points: Tensor, centers: Tensor, center_features: Tensor, *, max_pairs: int = DEFAULT_MAX_PAIRS
) -> Tensor:
    """Features ``(B, C, N)`` at ``points`` interpolated from the three nearest ``centers``."""
    indices, weights = three_nearest_neighbors(points, centers, max_pairs=max_pairs)
    return interpolate_features(center_features, indices, weights)
