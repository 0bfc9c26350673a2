"""Ball query and neighbour grouping (PVCNN ``ball_query.cu`` / ``grouping.cu`` semantics)."""

import torch
from torch import Tensor

from hounsfield.ops.pairwise import DEFAULT_MAX_PAIRS, rows_per_chunk, squared_distance


def ball_query(
    centers: Tensor,
    points: Tensor,
    radius: float,
    num_neighbors: int,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> Tensor:
    """Indices ``(B, M, K)`` of the FIRST ``K`` points, in point order, strictly inside ``radius``.

    Args:
        centers: query centres ``(B, 3, M)``.
        points: point coordinates ``(B, 3, N)``.
        radius: ball radius; a point is inside when ``d^2 < radius^2`` (strict, as the kernel).
        num_neighbors: ``K``.
        max_pairs: memory budget of one chunk of centres (see :mod:`hounsfield.ops.pairwise`).

    These are not the K nearest points: the kernel scans points by index and stops after K hits.
    Slots past the number of hits repeat the first hit; a centre with no point inside its ball
    gets index 0 in every slot (the kernel's zero-initialised output). Returns int64 indices.
    """
    if centers.dim() != 3 or points.dim() != 3 or centers.shape[1] != 3 or points.shape[1] != 3:
        raise ValueError(
            f"expected (B, 3, M) centres and (B, 3, N) points, got {centers.shape}, {points.shape}"
        )
    if num_neighbors < 1:
        raise ValueError(f"num_neighbors must be positive, got {num_neighbors}")
    batch, _, num_centers = centers.shape
    num_points = points.shape[2]
    # The kernel squares the radius in float32; do the same so boundary points agree.
    r2 = torch.tensor(radius, dtype=points.dtype).square().item()
    k = num_neighbors
    device = points.device
    point_ids = torch.arange(num_points, device=device)
    slot_ids = torch.arange(k, device=device)
    out = torch.empty(batch, num_centers, k, dtype=torch.long, device=device)
    step = rows_per_chunk(batch, num_centers, num_points, max_pairs)
    for start in range(0, num_centers, step):
        stop = min(start + step, num_centers)
        inside = squared_distance(centers[:, :, start:stop], points) < r2  # (B, m, N)
        # rank[j] = number of hits among points 0..j; hit j goes to slot rank[j] - 1.
        rank = inside.cumsum(dim=-1, dtype=torch.int32)
        keep = inside & (rank <= k)
        # Every non-kept point is routed to a spare slot k that is dropped afterwards.
        slot = torch.where(keep, rank - 1, k).long()
        found = torch.zeros(batch, stop - start, k + 1, dtype=torch.long, device=device)
        found.scatter_(2, slot, point_ids.expand_as(slot))
        count = rank[:, :, -1:].clamp(max=k)
        out[:, start:stop] = torch.where(slot_ids < count, found[:, :, :k], found[:, :, :1])
    return out


def group_points(features: Tensor, indices: Tensor) -> Tensor:
    """Gather ``features (B, C, N)`` at neighbour ``indices (B, M, K)`` into ``(B, C, M, K)``.

    Differentiable in ``features`` (the backward is the kernel's scatter-add).
    """
    batch, channels, _ = features.shape
    _, num_centers, k = indices.shape
    flat = indices.reshape(batch, 1, num_centers * k).expand(batch, channels, num_centers * k)
    return features.gather(2, flat).view(batch, channels, num_centers, k)
