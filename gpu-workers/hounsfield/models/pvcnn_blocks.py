"""Building blocks of PVCNN2 as used by PCDiff (Friedrich et al., MICCAI 2023).

Layer choices follow the public PCDiff model (itself derived from PVD / PVCNN): GroupNorm with 8
groups and Swish (SiLU) everywhere, squeeze-excitation with a ReLU bottleneck, and unscaled
dot-product self-attention. The point/voxel operations come from :mod:`hounsfield.ops`.
"""

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hounsfield import ops

GROUPS = 8


class SharedMLP(nn.Sequential):
    """Stack of 1x1 convolutions, each followed by GroupNorm(8) and Swish."""

    def __init__(self, in_channels: int, out_channels: Sequence[int], dim: int = 1) -> None:
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[dim]
        layers: list[nn.Module] = []
        for oc in out_channels:
            layers += [conv(in_channels, oc, 1), nn.GroupNorm(GROUPS, oc), nn.SiLU()]
            in_channels = oc
        super().__init__(*layers)


class SqueezeExcite3d(nn.Module):
    """Channel gating from the global average of a voxel grid (reduction 8, ReLU, no biases)."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        gate = self.fc(x.mean(dim=(2, 3, 4)))
        return x * gate[:, :, None, None, None]


class SelfAttention(nn.Module):
    """Residual self-attention over all voxels (or points) of ``x (B, C, *spatial)``.

    As in PCDiff the logits ``q_i . k_j`` are NOT divided by sqrt(C); the residual sum goes
    through GroupNorm(8) and Swish. 1x1 projections have the parameters of the original
    ``Conv3d``/``Conv1d`` layers; ``scaled_dot_product_attention`` avoids materialising the
    (voxels x voxels) matrix where the backend allows.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q = nn.Conv1d(channels, channels, 1)
        self.k = nn.Conv1d(channels, channels, 1)
        self.v = nn.Conv1d(channels, channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.norm = nn.GroupNorm(GROUPS, channels)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)  # (B, C, L)
        q, k, v = (proj(flat).transpose(1, 2)[:, None] for proj in (self.q, self.k, self.v))
        h = F.scaled_dot_product_attention(q, k, v, scale=1.0)[:, 0].transpose(1, 2)
        return F.silu(self.norm(self.out(h) + flat)).view_as(x)


class PVConv(nn.Module):
    """Point-voxel convolution: a voxel branch (two 3x3x3 convs) plus a per-point MLP branch.

    The voxel branch averages point features into an ``R^3`` grid (coordinates centred and
    scaled per cloud), applies conv-GN-Swish-dropout-conv-GN-(Swish or self-attention)
    [-squeeze-excite], and samples the grid back at the points trilinearly.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: int,
        *,
        attention: bool = False,
        dropout: float = 0.1,
        with_se: bool = True,
        se_reduction: int = 8,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, out_channels, 3, padding=1),
            nn.GroupNorm(GROUPS, out_channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Conv3d(out_channels, out_channels, 3, padding=1),
            nn.GroupNorm(GROUPS, out_channels),
            SelfAttention(out_channels) if attention else nn.SiLU(),
        ]
        # PCDiff drops squeeze-excitation from the block that carries attention.
        if with_se and not attention:
            layers.append(SqueezeExcite3d(out_channels, se_reduction))
        self.voxel_layers = nn.Sequential(*layers)
        self.point_features = SharedMLP(in_channels, [out_channels])

    def forward(self, features: Tensor, coords: Tensor) -> Tensor:
        grid, voxel_coords = ops.voxelize(features, coords, self.resolution)
        voxel_features = ops.trilinear_devoxelize(self.voxel_layers(grid), voxel_coords)
        return voxel_features + self.point_features(features)


class SetAbstraction(nn.Module):
    """Farthest-point centres, ball-query neighbourhoods, shared MLP on [relative xyz, features], max-pool."""

    def __init__(
        self,
        num_centers: int,
        radius: float,
        num_neighbors: int,
        in_channels: int,
        mlp_channels: Sequence[int],
    ) -> None:
        super().__init__()
        self.num_centers = num_centers
        self.radius = radius
        self.num_neighbors = num_neighbors
        self.mlp = SharedMLP(in_channels + 3, mlp_channels, dim=2)
        self.out_channels = mlp_channels[-1]

    def forward(self, features: Tensor, coords: Tensor) -> tuple[Tensor, Tensor]:
        centers = ops.gather_points(coords, ops.farthest_point_sample(coords, self.num_centers))
        neighbors = ops.ball_query(centers, coords, self.radius, self.num_neighbors)
        relative = ops.group_points(coords, neighbors) - centers[:, :, :, None]
        grouped = torch.cat([relative, ops.group_points(features, neighbors)], dim=1)
        return self.mlp(grouped).amax(dim=-1), centers


class FeaturePropagation(nn.Module):
    """Three-NN interpolation of centre features to points, concatenated with ``extra``, then a shared MLP."""

    def __init__(self, in_channels: int, mlp_channels: Sequence[int]) -> None:
        super().__init__()
        self.mlp = SharedMLP(in_channels, mlp_channels)
        self.out_channels = mlp_channels[-1]

    def forward(self, points: Tensor, centers: Tensor, center_features: Tensor, extra: Tensor) -> Tensor:
        interpolated = ops.nearest_neighbor_interpolate(points, centers, center_features)
        return self.mlp(torch.cat([interpolated, extra], dim=1))


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding ``(B, dim)`` of integer timesteps ``t (B,)`` ([sin | cos], as in DDPM)."""
    half = dim // 2
    scale = math.log(10000) / max(1, half - 1)
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -scale)
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, dim % 2))
