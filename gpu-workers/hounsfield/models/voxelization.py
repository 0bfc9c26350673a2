"""PCDiff's voxelization network: Encode2Points (Shape-as-Points) + DPSR.

Points of a completed skull, in the normalised frame of ``hounsfield.data.coordinates``, are
moved into the PSR unit cube; a local-pool PointNet scatters per-point features into a coarse
grid refined by a 3-D U-Net; two point decoders read that grid and predict ``num_offsets``
offsets per point (scaled by ``offset_scale``, so they only nudge points) and a normal for every
offset point; DPSR turns the oriented points into an indicator field, trained with psr_l2 =
MSE(tanh(field), tanh(gt)). ``generate`` returns the occupancy (field <= 0) in the original
volume's voxel frame.

Feature grids are indexed ``[x, y, z]`` like the PSR grid; ``grid_sample`` wants ``(z, y, x)``
coordinates for such a layout, which ``_sample_grid`` handles.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from hounsfield.data.coordinates import DEFAULT_PSR_HALF_EXTENT, BoxNormalisation, normalised_to_psr
from hounsfield.data.dense_samples import DenseSamplingConfig
from hounsfield.data.psr_grid import field_to_occupancy
from hounsfield.data.skullbreak import VoxelizationSamplingConfig
from hounsfield.models.dpsr import DPSR

PresetName = Literal["paper", "cpu-tiny"]
_U_MAX = 0.99  # points are clamped into the PSR cube, as in Shape-as-Points


class VoxelizationConfig(BaseModel):
    """Architecture, grid and optimiser settings of the voxelization network."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    psr_resolution: int = Field(default=512, ge=8)
    psr_sigma: float = Field(default=2.0, ge=0)
    psr_half_extent: float = Field(default=DEFAULT_PSR_HALF_EXTENT, gt=0)
    encoder_resolution: int = Field(default=32, ge=4)
    c_dim: int = Field(default=32, gt=0)
    hidden_dim: int = Field(default=32, gt=0)
    encoder_blocks: int = Field(default=5, ge=1)
    unet_levels: int = Field(default=3, ge=1)
    unet_f_maps: int = Field(default=32, gt=0)
    unet_groups: int = Field(default=8, gt=0)
    decoder_hidden: int = Field(default=32, gt=0)
    decoder_blocks: int = Field(default=5, ge=1)
    num_offsets: int = Field(default=7, ge=1)
    offset_scale: float = Field(default=0.001, gt=0)
    num_points: int = Field(default=30_720, gt=0)
    batch_size: int = Field(default=2, gt=0)
    learning_rate: float = Field(default=5e-4, gt=0)


def voxelization_preset(name: PresetName) -> VoxelizationConfig:
    """``paper``: PCDiff's SkullBreak settings (PSR grid 512); ``cpu-tiny``: a 48^3 CPU variant."""
    if name == "paper":
        return VoxelizationConfig()
    if name == "cpu-tiny":
        return VoxelizationConfig(
            psr_resolution=48,
            encoder_resolution=16,
            c_dim=16,
            hidden_dim=16,
            unet_f_maps=16,
            decoder_hidden=16,
            num_points=2_048,
            # CPU runs last a few hundred steps, not 2,600 epochs: a larger step gets the normals
            # decoder out of the flipped-orientation plateau much sooner.
            learning_rate=3e-3,
        )
    raise ValueError(f"unknown voxelization preset {name!r}")


def dataset_sampling(
    config: VoxelizationConfig, dense: DenseSamplingConfig | None = None
) -> VoxelizationSamplingConfig:
    """Dataset settings that match a model: same point count, PSR grid and PSR cube."""
    return VoxelizationSamplingConfig(
        n_points=config.num_points,
        psr_resolution=config.psr_resolution,
        psr_half_extent=config.psr_half_extent,
        dense=dense or DenseSamplingConfig(),
    )


def psr_l2(field: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PCDiff's loss: MSE between tanh of the predicted and of the ground-truth indicator grids."""
    return F.mse_loss(torch.tanh(field), torch.tanh(target))


class ResnetBlockFC(nn.Module):
    """Pre-activation fully connected residual block; the last layer starts at zero (identity)."""

    def __init__(self, size_in: int, size_out: int | None = None) -> None:
        super().__init__()
        size_out = size_in if size_out is None else size_out
        size_h = min(size_in, size_out)
        self.fc_0 = nn.Linear(size_in, size_h)
        self.fc_1 = nn.Linear(size_h, size_out)
        nn.init.zeros_(self.fc_1.weight)
        self.shortcut = None if size_in == size_out else nn.Linear(size_in, size_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dx = self.fc_1(F.relu(self.fc_0(F.relu(x))))
        return (x if self.shortcut is None else self.shortcut(x)) + dx


def _cell_index(points: torch.Tensor, resolution: int) -> torch.Tensor:
    """Flat ``[x, y, z]`` cell index of points in [0, 1)^3, shape ``(B, N)``."""
    cell = (points * resolution).long().clamp(0, resolution - 1)
    return (cell[..., 0] * resolution + cell[..., 1]) * resolution + cell[..., 2]


def _local_coordinates(points: torch.Tensor, resolution: int) -> torch.Tensor:
    """Position inside the point's encoder cell, in [0, 1)^3."""
    scaled = points * resolution
    return scaled - torch.floor(scaled)


def _sample_grid(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear features at points: grid ``(B, C, X, Y, Z)``, points ``(B, N, 3)`` -> ``(B, N, C)``.

    ``align_corners=False`` puts cell ``i``'s feature at ``(i + 0.5) / R``, the centre of the cell
    its points were pooled from.
    """
    coords = (2.0 * points - 1.0).flip(-1)  # grid_sample: last coordinate indexes dim 2 (X)
    sampled = F.grid_sample(
        grid, coords[:, :, None, None, :], mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled[:, :, :, 0, 0].transpose(1, 2)


class DoubleConv(nn.Sequential):
    """(GroupNorm, 3x3x3 conv, ReLU) twice: pytorch-3dunet's 'gcr' order."""

    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        def group_norm(channels: int) -> nn.GroupNorm:
            g = groups if channels % groups == 0 and channels >= groups else 1
            return nn.GroupNorm(g, channels)

        super().__init__(
            group_norm(in_channels),
            nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            group_norm(out_channels),
            nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
        )


class UNet3D(nn.Module):
    """3-D U-Net: ``levels`` resolutions with ``f_maps * 2**l`` channels, max-pool down,
    nearest-neighbour up, skip connections by concatenation, final 1x1x1 convolution."""

    def __init__(self, channels: int, f_maps: int, levels: int, groups: int) -> None:
        super().__init__()
        widths = [f_maps * 2**level for level in range(levels)]
        self.down = nn.ModuleList(
            [DoubleConv(channels if i == 0 else widths[i - 1], w, groups) for i, w in enumerate(widths)]
        )
        self.up = nn.ModuleList(
            [DoubleConv(widths[i] + widths[i + 1], widths[i], groups) for i in reversed(range(levels - 1))]
        )
        self.final = nn.Conv3d(widths[0], channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool3d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[2:], mode="nearest")
            x = block(torch.cat([skip, x], dim=1))
        return self.final(x)


class LocalPoolPointNet(nn.Module):
    """PointNet with local max-pooling over encoder cells, then mean-scattered into a feature grid."""

    def __init__(self, config: VoxelizationConfig) -> None:
        super().__init__()
        hidden = config.hidden_dim
        self.resolution = config.encoder_resolution
        self.c_dim = config.c_dim
        self.fc_pos = nn.Linear(3, 2 * hidden)
        self.blocks = nn.ModuleList([ResnetBlockFC(2 * hidden, hidden) for _ in range(config.encoder_blocks)])
        self.fc_c = nn.Linear(hidden, config.c_dim)
        self.unet = UNet3D(config.c_dim, config.unet_f_maps, config.unet_levels, config.unet_groups)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points ``(B, N, 3)`` in [0, 1) -> feature grid ``(B, c_dim, R, R, R)``."""
        batch = points.shape[0]
        cells = self.resolution**3
        index = _cell_index(points, self.resolution).unsqueeze(1)  # (B, 1, N)
        net = self.blocks[0](self.fc_pos(_local_coordinates(points, self.resolution)))
        for block in self.blocks[1:]:
            features = net.transpose(1, 2)  # (B, C, N)
            pooled = features.new_zeros(batch, features.shape[1], cells).scatter_reduce(
                2, index.expand_as(features), features, reduce="amax", include_self=False
            )
            net = block(torch.cat([net, pooled.gather(2, index.expand_as(features)).transpose(1, 2)], dim=2))
        c = self.fc_c(net).transpose(1, 2)  # (B, c_dim, N)
        grid = c.new_zeros(batch, self.c_dim, cells).scatter_reduce(
            2, index.expand_as(c), c, reduce="mean", include_self=False
        )
        r = self.resolution
        return self.unet(grid.view(batch, self.c_dim, r, r, r))


class LocalDecoder(nn.Module):
    """Per-point MLP conditioned on grid features sampled at the point."""

    def __init__(self, config: VoxelizationConfig, out_dim: int, local: bool) -> None:
        super().__init__()
        hidden = config.decoder_hidden
        self.resolution = config.encoder_resolution if local else None
        self.fc_p = nn.Linear(3, hidden)
        self.fc_c = nn.ModuleList([nn.Linear(config.c_dim, hidden) for _ in range(config.decoder_blocks)])
        self.blocks = nn.ModuleList([ResnetBlockFC(hidden) for _ in range(config.decoder_blocks)])
        self.fc_out = nn.Linear(hidden, out_dim)

    def forward(self, points: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        c = _sample_grid(grid, points)
        coords = points if self.resolution is None else _local_coordinates(points, self.resolution)
        net = self.fc_p(coords)
        for fc_c, block in zip(self.fc_c, self.blocks, strict=True):
            net = block(net + fc_c(c))
        return self.fc_out(F.relu(net))


class Encode2Points(nn.Module):
    """Points (normalised frame) -> oriented points in the PSR cube -> DPSR indicator field."""

    def __init__(self, config: VoxelizationConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = LocalPoolPointNet(config)
        self.decoder_offset = LocalDecoder(config, 3 * config.num_offsets, local=True)
        self.decoder_normal = LocalDecoder(config, 3, local=False)
        self.dpsr = DPSR(config.psr_resolution, sigma=config.psr_sigma)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points ``(B, N, 3)`` normalised -> (points ``(B, N*K, 3)`` in the PSR cube, normals)."""
        u = normalised_to_psr(points, self.config.psr_half_extent).clamp(0.0, _U_MAX)
        grid = self.encoder(u)
        batch, n = u.shape[:2]
        offsets = self.decoder_offset(u, grid).reshape(batch, n * self.config.num_offsets, 3)
        moved = u.repeat_interleave(self.config.num_offsets, dim=1) + self.config.offset_scale * offsets
        moved = moved.clamp(0.0, _U_MAX)
        return moved, self.decoder_normal(moved, grid)

    def field(self, points: torch.Tensor) -> torch.Tensor:
        """Indicator field ``(B, R, R, R)`` on the PSR grid (negative inside)."""
        moved, normals = self(points)
        return self.dpsr(moved, normals)

    def loss(self, points: torch.Tensor, gt_psr: torch.Tensor) -> torch.Tensor:
        """psr_l2 of a batch: points ``(B, N, 3)`` normalised, gt ``(B, R, R, R)``."""
        return psr_l2(self.field(points), gt_psr)

    @torch.no_grad()
    def generate(
        self, points: torch.Tensor | npt.NDArray[np.floating], normalisation: BoxNormalisation
    ) -> npt.NDArray[np.bool_]:
        """Occupancy of one case in its original voxel frame (shape ``normalisation.volume_shape``)."""
        device = next(self.parameters()).device
        x = torch.as_tensor(points, dtype=torch.float32, device=device)
        was_training = self.training
        self.eval()
        try:
            field = self.field(x.reshape(1, -1, 3))[0]
        finally:
            self.train(was_training)
        return field_to_occupancy(field.cpu().numpy(), normalisation, self.config.psr_half_extent)
