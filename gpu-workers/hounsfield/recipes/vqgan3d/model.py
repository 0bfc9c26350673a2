"""The 3-D VQGAN generator: encoder, EMA vector quantiser, decoder.

Encoder: a 3×3×3 stem, then one level per halving of the largest downsampling factor, each level
``res_blocks`` residual blocks (GroupNorm, SiLU, conv; twice; plus the skip) and a strided 3×3×3
convolution whose stride is 2 on the axes still to be downsampled and 1 on the others, so
``downsample=(4, 4, 2)`` halves x and y twice and z once. Channels double per level up to
4 × ``hidden_channels``. A 1×1×1 convolution maps to ``embedding_dim``. The decoder mirrors it with
nearest-neighbour upsampling + 3×3×3 convolutions.

The quantiser (:class:`EMAVectorQuantizer`) replaces each latent vector by its nearest codebook
entry; entries follow the exponential moving average of the vectors assigned to them (van den Oord
et al. 2017, appendix), the codebook is initialised from the first training batch's latents, and
entries whose EMA usage falls below ``restart_threshold`` are restarted at random latents of the
current batch. Under DDP the counts and sums are all-reduced and the random picks come from rank 0,
so every rank keeps the same codebook. The commitment loss is ``‖z - sg[e]‖²``; gradients pass the
quantiser straight through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

Shape3 = tuple[int, int, int]


def group_count(channels: int) -> int:
    """Largest of 32, 16, ..., 1 that divides ``channels`` (GroupNorm needs a divisor)."""
    return next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)


def level_strides(downsample: Shape3) -> list[Shape3]:
    """Per-level strides: 2 on an axis while its remaining factor is above 1."""
    for factor in downsample:
        if factor < 1 or factor & (factor - 1):
            raise ValueError(f"downsample factors must be powers of two, got {downsample}")
    levels = int(math.log2(max(downsample)))
    return [
        (
            2 if downsample[0] >> level > 1 else 1,
            2 if downsample[1] >> level > 1 else 1,
            2 if downsample[2] >> level > 1 else 1,
        )
        for level in range(levels)
    ]


class ResBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(group_count(channels_in), channels_in),
            nn.SiLU(),
            nn.Conv3d(channels_in, channels_out, 3, padding=1),
            nn.GroupNorm(group_count(channels_out), channels_out),
            nn.SiLU(),
            nn.Conv3d(channels_out, channels_out, 3, padding=1),
        )
        self.skip = nn.Identity() if channels_in == channels_out else nn.Conv3d(channels_in, channels_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


def _channels(hidden: int, levels: int) -> list[int]:
    return [hidden * min(2**level, 4) for level in range(levels + 1)]


class Encoder(nn.Module):
    def __init__(self, hidden: int, embedding_dim: int, downsample: Shape3, res_blocks: int) -> None:
        super().__init__()
        strides = level_strides(downsample)
        channels = _channels(hidden, len(strides))
        layers: list[nn.Module] = [nn.Conv3d(1, hidden, 3, padding=1)]
        for level, stride in enumerate(strides):
            layers += [ResBlock(channels[level], channels[level]) for _ in range(res_blocks)]
            layers.append(nn.Conv3d(channels[level], channels[level + 1], 3, stride=stride, padding=1))
        top = channels[-1]
        layers += [
            ResBlock(top, top),
            nn.GroupNorm(group_count(top), top),
            nn.SiLU(),
            nn.Conv3d(top, embedding_dim, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class Upsample(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, scale: Shape3) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv3d(channels_in, channels_out, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))


class Decoder(nn.Module):
    def __init__(self, hidden: int, embedding_dim: int, downsample: Shape3, res_blocks: int) -> None:
        super().__init__()
        strides = level_strides(downsample)
        channels = _channels(hidden, len(strides))
        top = channels[-1]
        layers: list[nn.Module] = [nn.Conv3d(embedding_dim, top, 3, padding=1), ResBlock(top, top)]
        for level in reversed(range(len(strides))):
            layers.append(Upsample(channels[level + 1], channels[level], strides[level]))
            layers += [ResBlock(channels[level], channels[level]) for _ in range(res_blocks)]
        layers += [nn.GroupNorm(group_count(hidden), hidden), nn.SiLU(), nn.Conv3d(hidden, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Quantized:
    """The quantiser's output: straight-through codes, their indices, the commitment loss."""

    z_q: Tensor
    indices: Tensor
    commitment: Tensor


class EMAVectorQuantizer(nn.Module):
    """Nearest-code quantisation with EMA codebook updates, data init and dead-code restart."""

    def __init__(
        self,
        n_codes: int,
        dim: int,
        *,
        decay: float = 0.99,
        eps: float = 1e-5,
        restart_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_codes, self.dim, self.decay, self.eps = n_codes, dim, decay, eps
        self.restart_threshold = restart_threshold
        self.register_buffer("codebook", torch.randn(n_codes, dim))
        self.register_buffer("cluster_size", torch.zeros(n_codes))
        self.register_buffer("embed_sum", torch.zeros(n_codes, dim))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.codebook: Tensor
        self.cluster_size: Tensor
        self.embed_sum: Tensor
        self.initialized: Tensor
        self.updates: Tensor

    def forward(self, z: Tensor) -> Quantized:
        with torch.autocast(z.device.type, enabled=False):
            z = z.float()
            flat = z.movedim(1, -1).reshape(-1, self.dim)
            if self.training and not bool(self.initialized):
                self._initialise(flat.detach())
            indices = self.nearest(flat)
            # the codes this batch was assigned (a copy), before the EMA update moves them
            z_q = self.codebook[indices].view(*z.shape[:1], *z.shape[2:], self.dim).movedim(-1, 1)
            if self.training:
                self._ema_update(flat.detach(), indices)
            commitment = F.mse_loss(z, z_q.detach())
            z_st = z + (z_q - z).detach()
        return Quantized(z_st, indices.view(z.shape[0], *z.shape[2:]), commitment)

    def nearest(self, flat: Tensor) -> Tensor:
        distances = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ self.codebook.t()
            + self.codebook.pow(2).sum(1)[None, :]
        )
        return distances.argmin(1)

    def dead_codes(self) -> int:
        """Entries whose EMA usage is below the restart threshold (restarted at the next update)."""
        return int((self.cluster_size < self.restart_threshold).sum())

    @torch.no_grad()
    def _pick(self, flat: Tensor, count: int, salt: int) -> Tensor:
        """``count`` random latent vectors of this batch, rank 0's under DDP, deterministic by update."""
        generator = torch.Generator().manual_seed(1_000_003 * int(self.updates) + salt)
        rows = torch.randint(0, flat.shape[0], (count,), generator=generator).to(flat.device)
        picked = flat[rows].contiguous()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.broadcast(picked, src=0)
        return picked

    @torch.no_grad()
    def _initialise(self, flat: Tensor) -> None:
        self.codebook.copy_(self._pick(flat, self.n_codes, salt=1))
        self.embed_sum.copy_(self.codebook)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, indices: Tensor) -> None:
        counts = torch.bincount(indices, minlength=self.n_codes).to(flat.dtype)
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, flat)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.n_codes * self.eps) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.restart_threshold
        n_dead = int(dead.sum())
        if n_dead:
            fresh = self._pick(flat, n_dead, salt=2)
            self.codebook[dead] = fresh
            self.embed_sum[dead] = fresh * self.restart_threshold
            self.cluster_size[dead] = self.restart_threshold
        self.updates.add_(1)


class VQGAN3D(nn.Module):
    """Encoder -> EMA quantiser -> decoder over single-channel patches ``B×1×X×Y×Z``."""

    def __init__(
        self,
        *,
        hidden_channels: int,
        embedding_dim: int,
        n_codes: int,
        downsample: Shape3,
        res_blocks: int = 1,
        decay: float = 0.99,
        restart_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.encoder = Encoder(hidden_channels, embedding_dim, downsample, res_blocks)
        self.quantizer = EMAVectorQuantizer(
            n_codes, embedding_dim, decay=decay, restart_threshold=restart_threshold
        )
        self.decoder = Decoder(hidden_channels, embedding_dim, downsample, res_blocks)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(reconstruction, commitment loss, code indices B×x×y×z)`` (plain tensors, for DDP)."""
        for axis, factor in enumerate(self.downsample):
            if x.shape[2 + axis] % factor:
                raise ValueError(
                    f"patch size {tuple(x.shape[2:])} is not divisible by downsample {self.downsample}"
                )
        quantized = self.quantizer(self.encoder(x))
        return self.decoder(quantized.z_q), quantized.commitment, quantized.indices
