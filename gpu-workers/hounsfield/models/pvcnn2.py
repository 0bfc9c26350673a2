"""PVCNN2 epsilon-prediction network of PCDiff (Friedrich et al., MICCAI 2023).

Input ``x (B, 3 + extra, N)`` holds point coordinates (plus optional per-point features) and
``t (B,)`` integer diffusion timesteps; the output is the predicted noise ``(B, 3, N)`` for every
point (the diffusion code decides which points the loss and sampler use).

Topology, as built by the public PCDiff code (``pvcnn_completion.py``):

* set abstraction (SA) stages: PVConv blocks, then farthest-point centres + ball query + MLP;
  every stage after the first gets the time embedding concatenated to its input;
* global self-attention over the last stage's centres;
* feature propagation (FP) stages mirroring SA: 3-NN interpolation, concatenation with the time
  embedding and the skip features of the matching SA stage input, MLP, PVConv blocks;
* head: 1x1 conv-GN-Swish, dropout 0.5, 1x1 conv to 3 channels.

The time embedding is the same vector for every point, so we broadcast it instead of grouping,
max-pooling and interpolating it alongside the features as the original does; the result is
identical up to float rounding (3-NN weights sum to one). Loaded with the original's weights
(same parameter order and channel concatenation order) the network reproduces the original
forward pass to float tolerance.
"""

import torch
from torch import Tensor, nn

from hounsfield.models.pvcnn2_config import FPStageConfig, PVCNN2Config, SAStageConfig
from hounsfield.models.pvcnn_blocks import (
    FeaturePropagation,
    PVConv,
    SelfAttention,
    SetAbstraction,
    SharedMLP,
    timestep_embedding,
)

__all__ = ["PVCNN2", "FPStageConfig", "PVCNN2Config", "SAStageConfig", "count_parameters"]


class _SAStage(nn.Module):
    """PVConv blocks at the stage's points, then set abstraction to the next, coarser centres."""

    def __init__(self, convs: list[PVConv], sa: SetAbstraction) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.sa = sa

    def forward(self, features: Tensor, coords: Tensor) -> tuple[Tensor, Tensor]:
        for conv in self.convs:
            features = conv(features, coords)
        return self.sa(features, coords)


class _FPStage(nn.Module):
    """Feature propagation from centres back to the points, then PVConv blocks at the points."""

    def __init__(self, fp: FeaturePropagation, convs: list[PVConv]) -> None:
        super().__init__()
        self.fp = fp
        self.convs = nn.ModuleList(convs)

    def forward(self, points: Tensor, centers: Tensor, center_features: Tensor, extra: Tensor) -> Tensor:
        features = self.fp(points, centers, center_features, extra)
        for conv in self.convs:
            features = conv(features, points)
        return features


class PVCNN2(nn.Module):
    """PVCNN2 noise predictor: ``forward(x (B, 3 + extra, N), t (B,)) -> eps (B, out_channels, N)``."""

    def __init__(self, config: PVCNN2Config) -> None:
        super().__init__()
        self.config = config
        cfg, emb = config, config.embed_dim
        self.in_channels = 3 + cfg.extra_feature_channels
        # Skip features of SA stage i are that stage's input without the time embedding; the
        # first stage passes only the extra features (not xyz) to the last FP stage, as in PCDiff.
        skip_channels: list[int] = []
        channels = self.in_channels
        sa_stages: list[_SAStage] = []
        for i, sa in enumerate(cfg.sa_stages):
            skip_channels.append(cfg.extra_feature_channels if i == 0 else channels)
            if i > 0:
                channels += emb
            convs = []
            for b in range(sa.conv_blocks):
                out = cfg.width(sa.conv_channels)
                attention = sa.attention and cfg.voxel_attention and b == 0
                convs.append(self._pvconv(channels, out, sa.voxel_resolution, attention))
                channels = out
            abstraction = SetAbstraction(
                sa.num_centers, sa.radius, sa.num_neighbors, channels, [cfg.width(c) for c in sa.mlp_channels]
            )
            channels = abstraction.out_channels
            sa_stages.append(_SAStage(convs, abstraction))
        self.sa_stages = nn.ModuleList(sa_stages)
        self.global_attention = SelfAttention(channels) if cfg.global_attention else None
        fp_stages: list[_FPStage] = []
        for j, fp in enumerate(cfg.fp_stages):
            propagation = FeaturePropagation(
                channels + emb + skip_channels[-1 - j], [cfg.width(c) for c in fp.mlp_channels]
            )
            channels = propagation.out_channels
            convs = []
            for _ in range(fp.conv_blocks):
                out = cfg.width(fp.conv_channels)
                convs.append(self._pvconv(channels, out, fp.voxel_resolution, attention=False))
                channels = out
            fp_stages.append(_FPStage(propagation, convs))
        self.fp_stages = nn.ModuleList(fp_stages)
        hidden = cfg.width(cfg.head_channels)
        self.head = nn.Sequential(
            SharedMLP(channels, [hidden]),
            nn.Dropout(cfg.head_dropout),
            nn.Conv1d(hidden, cfg.out_channels, 1),
        )
        self.time_mlp = nn.Sequential(nn.Linear(emb, emb), nn.LeakyReLU(0.1), nn.Linear(emb, emb))

    def _pvconv(self, in_channels: int, out_channels: int, resolution: int, attention: bool) -> PVConv:
        cfg = self.config
        return PVConv(
            in_channels,
            out_channels,
            cfg.resolution(resolution),
            attention=attention,
            dropout=cfg.dropout,
            with_se=cfg.with_se,
            se_reduction=cfg.se_reduction,
        )

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Predict the noise of every point; ``x`` is ``(B, 3 + extra, N)``, ``t`` is ``(B,)``."""
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected x of shape (B, {self.in_channels}, N), got {tuple(x.shape)}")
        if t.shape != (x.shape[0],):
            raise ValueError(f"expected t of shape ({x.shape[0]},), got {tuple(t.shape)}")
        temb = self.time_mlp(timestep_embedding(t, self.config.embed_dim).to(x.dtype))[:, :, None]

        coords, features = x[:, :3].contiguous(), x
        skips: list[tuple[Tensor, Tensor]] = []
        for i, stage in enumerate(self.sa_stages):
            skips.append((coords, x[:, 3:] if i == 0 else features))
            if i > 0:
                features = torch.cat([features, temb.expand(-1, -1, features.shape[2])], dim=1)
            features, coords = stage(features, coords)
        if self.global_attention is not None:
            features = self.global_attention(features)
        for j, stage in enumerate(self.fp_stages):
            skip_coords, skip_features = skips[-1 - j]
            extra = torch.cat([temb.expand(-1, -1, skip_coords.shape[2]), skip_features], dim=1)
            features = stage(skip_coords, coords, features, extra)
            coords = skip_coords
        return self.head(features)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
