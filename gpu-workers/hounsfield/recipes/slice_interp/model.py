"""The denoiser and its noise schedules: a 3-D ``DiffusionModelUNet`` on VAE latents.

The network sees the noisy thin latent concatenated (channels) with the thick latent resampled
trilinearly to the thin latent's depth, and predicts the noise (or ``v``). Latent grids whose
sizes are not multiples of the UNet's total downsampling (``2^(levels-1)``; the seed's 300 thin
slices give 75 latent slices) are padded by edge replication and the output is cropped back.
Training uses MONAI's ``DDPMScheduler``, sampling its ``DDIMScheduler`` (deterministic, eta 0)
with the same noise schedule; ``clip_sample`` is off because scaled latents are not in [-1, 1].
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.nets import DiffusionModelUNet
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from hounsfield.recipes.slice_interp.config import DenoiserConfig, DiffusionConfig

#: The MONAI schedule each config name stands for.
MONAI_SCHEDULES = {"linear": "linear_beta", "scaled_linear": "scaled_linear_beta", "cosine": "cosine"}
_PREDICTION = {"epsilon": "epsilon", "v": "v_prediction"}


def resample_depth(latent: Tensor, depth: int) -> Tensor:
    """``latent`` ``(B, C, x, y, z)`` trilinearly resampled to ``depth`` slices (x, y unchanged)."""
    if latent.shape[-1] == depth:
        return latent
    size = (latent.shape[-3], latent.shape[-2], depth)
    return F.interpolate(latent, size=size, mode="trilinear", align_corners=False)


class SliceInterpDenoiser(nn.Module):
    """``forward(noisy thin latent, thick latent, timesteps) -> prediction`` (see the module docstring)."""

    def __init__(self, config: DenoiserConfig, latent_channels: int = 4) -> None:
        super().__init__()
        self.latent_channels = latent_channels
        self.unet = DiffusionModelUNet(
            spatial_dims=3,
            in_channels=2 * latent_channels,
            out_channels=latent_channels,
            channels=list(config.channels),
            attention_levels=list(config.attention_levels),
            num_res_blocks=config.num_res_blocks,
            num_head_channels=config.num_head_channels,
            norm_num_groups=config.norm_num_groups,
        )
        self.multiple = 2 ** (len(config.channels) - 1)
        self._originals: dict[int, Any] = {}

    def forward(self, noisy: Tensor, thick: Tensor, timesteps: Tensor) -> Tensor:
        x = torch.cat([noisy, resample_depth(thick.to(noisy.dtype), noisy.shape[-1])], dim=1)
        sizes = x.shape[-3:]
        pads: list[int] = []
        for size in reversed(sizes):  # F.pad lists the last axis first
            pads += [0, -size % self.multiple]
        if any(pads):
            x = F.pad(x, pads, mode="replicate")
        out: Tensor = self.unet(x, timesteps)
        return out[..., : sizes[0], : sizes[1], : sizes[2]]

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        """Recompute each down, middle and up block's activations in backward (saves memory)."""
        blocks = [*self.unet.down_blocks, self.unet.middle_block, *self.unet.up_blocks]
        for block in blocks:
            key = id(block)
            if enabled and key not in self._originals:
                self._originals[key] = block.forward
                block.forward = functools.partial(_checkpointed, self._originals[key])  # type: ignore[method-assign]
            elif not enabled and key in self._originals:
                block.forward = self._originals.pop(key)  # type: ignore[method-assign]


def _checkpointed(forward: Any, *args: Any, **kwargs: Any) -> Any:
    if not torch.is_grad_enabled():
        return forward(*args, **kwargs)
    return checkpoint(forward, *args, use_reentrant=False, **kwargs)


def build_denoiser(config: DenoiserConfig, latent_channels: int = 4) -> SliceInterpDenoiser:
    return SliceInterpDenoiser(config, latent_channels)


def training_scheduler(config: DiffusionConfig) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=config.timesteps,
        schedule=MONAI_SCHEDULES[config.schedule],
        prediction_type=_PREDICTION[config.prediction],
        clip_sample=False,
    )


def sampling_scheduler(config: DiffusionConfig, steps: int | None = None) -> DDIMScheduler:
    scheduler = DDIMScheduler(
        num_train_timesteps=config.timesteps,
        schedule=MONAI_SCHEDULES[config.schedule],
        prediction_type=_PREDICTION[config.prediction],
        clip_sample=False,
    )
    scheduler.set_timesteps(steps or config.ddim_steps)
    return scheduler


def diffusion_loss(
    model: nn.Module, scheduler: DDPMScheduler, thin: Tensor, thick: Tensor, prediction: str
) -> Tensor:
    """Mean squared error of the predicted noise (or v) at uniformly drawn timesteps."""
    noise = torch.randn_like(thin)
    timesteps = torch.randint(0, scheduler.num_train_timesteps, (thin.shape[0],), device=thin.device)
    noisy = scheduler.add_noise(thin, noise, timesteps)
    target = noise if prediction == "epsilon" else scheduler.get_velocity(thin, noise, timesteps)
    predicted = model(noisy, thick, timesteps)
    return F.mse_loss(predicted.float(), target.float())


@torch.no_grad()
def ddim_sample(
    model: nn.Module,
    config: DiffusionConfig,
    thick: Tensor,
    thin_depth: int,
    *,
    steps: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A thin latent ``(B, C, x, y, thin_depth)`` sampled with DDIM from seeded noise, given the
    (scaled) thick latent ``(B, C, x, y, z_thick)``."""
    scheduler = sampling_scheduler(config, steps)
    shape = (*thick.shape[:-1], thin_depth)
    sample = torch.randn(shape, generator=generator, dtype=torch.float32).to(thick.device)
    for t in scheduler.timesteps:
        timesteps = torch.full((shape[0],), int(t), device=thick.device, dtype=torch.long)
        output = model(sample, thick, timesteps).float()
        sample, _ = scheduler.step(output, int(t), sample)
    return sample
