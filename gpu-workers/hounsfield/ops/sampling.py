"""Farthest point sampling and index gathering (PVCNN ``sampling.cu`` semantics)."""

import torch
from torch import Tensor


def farthest_point_sample(coords: Tensor, num_samples: int) -> Tensor:
    """Indices ``(B, M)`` of ``num_samples`` points chosen by iterative farthest point sampling.

    Starts at point 0, then repeatedly takes the point whose squared distance to the chosen set
    is largest (distances start at 1e38 as in the kernel). Exact ties go to the lowest index; the
    CUDA kernel's tie order depends on its thread layout, so only tie-free inputs are
    bit-comparable. When ``num_samples > N`` the remaining picks repeat index 0, like the kernel.
    The loop over samples is inherently sequential; each step is vectorised over batch and points.
    """
    if coords.dim() != 3 or coords.shape[1] != 3:
        raise ValueError(f"expected (B, 3, N) coordinates, got {tuple(coords.shape)}")
    batch, _, num_points = coords.shape
    coords = coords.detach()
    indices = torch.zeros(batch, num_samples, dtype=torch.long, device=coords.device)
    if num_samples == 0:
        return indices
    dist = torch.full((batch, num_points), 1e38, dtype=coords.dtype, device=coords.device)
    last = indices[:, :1]  # (B, 1) index of the latest pick
    for j in range(1, num_samples):
        picked = coords.gather(2, last[:, None, :].expand(batch, 3, 1))  # (B, 3, 1)
        sq = (coords - picked).square_()
        d2 = sq[:, 0] + sq[:, 1] + sq[:, 2]  # the kernel's dx*dx + dy*dy + dz*dz order
        torch.minimum(dist, d2, out=dist)
        last = dist.argmax(dim=1, keepdim=True)
        indices[:, j : j + 1] = last
    return indices


def gather_points(features: Tensor, indices: Tensor) -> Tensor:
    """Gather ``features (B, C, N)`` at ``indices (B, M)`` into ``(B, C, M)`` (differentiable)."""
    batch, channels, _ = features.shape
    return features.gather(2, indices[:, None, :].expand(batch, channels, indices.shape[1]))
