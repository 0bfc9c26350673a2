"""Average voxelization and trilinear devoxelization (PVCNN ``vox.cu`` / ``trilinear_devox.cu``).

Grids are ``(B, C, R, R, R)`` indexed ``[x, y, z]``: a voxel's flat index is ``x*R*R + y*R + z``,
as in the kernels, so ``grid[b, c, x, y, z]`` holds the voxel at integer coordinates (x, y, z).
"""

import torch
from torch import Tensor


def normalize_voxel_coords(
    coords: Tensor, resolution: int, *, normalize: bool = True, eps: float = 0.0
) -> Tensor:
    """Map point coordinates ``(B, 3, N)`` to continuous voxel coordinates in ``[0, R-1]``.

    Mirrors PVCNN's ``Voxelization`` module: centre each cloud on its mean; with ``normalize``
    divide by twice the largest distance from the mean (plus ``eps``) and shift by 0.5 so the
    cloud fits the unit cube, otherwise map ``[-1, 1]`` to ``[0, 1]``; scale by ``R`` and clamp to
    ``[0, R-1]``. A cloud of identical points (zero spread) lands in the centre voxel where the
    original would divide by zero. Coordinates are detached: no gradient flows to them.
    """
    coords = coords.detach()
    centered = coords - coords.mean(dim=2, keepdim=True)
    if normalize:
        spread = centered.norm(dim=1, keepdim=True).amax(dim=2, keepdim=True) * 2.0 + eps
        unit = centered / spread.clamp_min(torch.finfo(coords.dtype).tiny) + 0.5
    else:
        unit = (centered + 1.0) / 2.0
    return torch.clamp(unit * resolution, 0, resolution - 1)


def avg_voxelize(features: Tensor, voxel_coords: Tensor, resolution: int) -> Tensor:
    """Average the features ``(B, C, N)`` of points falling in the same voxel into ``(B, C, R, R, R)``.

    ``voxel_coords`` are the continuous coordinates from :func:`normalize_voxel_coords`; each
    point goes to the voxel at ``round(coords)`` (round half to even, like ``torch.round`` in the
    original). Empty voxels are zero. Differentiable in ``features``.
    """
    batch, channels, num_points = features.shape
    r = resolution
    ijk = torch.round(voxel_coords.detach()).long()
    flat = ijk[:, 0] * (r * r) + ijk[:, 1] * r + ijk[:, 2]  # (B, N)
    counts = torch.zeros(batch, r**3, dtype=features.dtype, device=features.device)
    counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=features.dtype))
    sums = features.new_zeros(batch, channels, r**3)
    sums = sums.scatter_add(2, flat[:, None, :].expand(batch, channels, num_points), features)
    grid = sums / counts.clamp_min(1.0)[:, None, :]
    return grid.view(batch, channels, r, r, r)


def voxelize(
    features: Tensor, coords: Tensor, resolution: int, *, normalize: bool = True, eps: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Voxel grid ``(B, C, R, R, R)`` of ``features`` and the continuous voxel coordinates ``(B, 3, N)``."""
    voxel_coords = normalize_voxel_coords(coords, resolution, normalize=normalize, eps=eps)
    return avg_voxelize(features, voxel_coords, resolution), voxel_coords


def trilinear_devoxelize(grid: Tensor, voxel_coords: Tensor) -> Tensor:
    """Trilinearly sample ``grid (B, C, R, R, R)`` at continuous ``voxel_coords (B, 3, N)`` -> ``(B, C, N)``.

    Coordinates must lie in ``[0, R-1]``. The upper corner along an axis is ``lo + 1`` only when
    the fractional part is positive, otherwise it is ``lo`` itself with weight zero, so points on
    the last grid plane never index past the grid (the kernel's ``x_hi`` trick). Differentiable
    in ``grid``; like the kernel, no gradient flows to the coordinates.
    """
    batch, channels, r = grid.shape[0], grid.shape[1], grid.shape[2]
    flat_grid = grid.reshape(batch, channels, r**3)
    coords = voxel_coords.detach().to(grid.dtype)
    lo = torch.floor(coords)
    frac = coords - lo  # weight of the upper corner per axis
    lo_idx = lo.long()
    step = (frac > 0).long()  # 1 if the upper corner is a distinct voxel
    strides = (r * r, r, 1)
    num_points = coords.shape[2]
    out = grid.new_zeros(batch, channels, num_points)
    for corner in range(8):
        bits = ((corner >> 2) & 1, (corner >> 1) & 1, corner & 1)  # (x, y, z) upper-corner flags
        index = torch.zeros_like(lo_idx[:, 0])
        weight = torch.ones_like(frac[:, 0])
        for axis, upper in enumerate(bits):
            index = index + (lo_idx[:, axis] + step[:, axis] * upper) * strides[axis]
            weight = weight * (frac[:, axis] if upper else 1.0 - frac[:, axis])
        values = flat_grid.gather(2, index[:, None, :].expand(batch, channels, num_points))
        out = out + values * weight[:, None, :]
    return out
