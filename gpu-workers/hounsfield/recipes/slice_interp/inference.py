"""Thick-to-thin interpolation with a trained slice_interp checkpoint (what evaluation builds on).

::

    model = load_for_inference(Path("run/checkpoints/step-000000100"), vae_weights=None, device="cpu")
    thin = model.interpolate(thick)      # (D, H, W) -> (D * model.factor, H, W)
    base = model.trilinear(thick)        # the baseline, same shape

Volumes are ``(D, H, W)`` tensors — slices first — in the intensity range the model was trained
on (HU windowed by :attr:`SliceInterpModel.window` to ``[0, 1]``; :meth:`SliceInterpModel.window_hu`
does that). ``interpolate`` encodes the thick volume with the frozen VAE (chunked along z), samples
the thin latent with DDIM from noise seeded by ``seed`` (``steps`` default: the checkpoint's
``ddimSteps``), decodes it (chunked) and clips to ``[0, 1]``. Any ``D`` works (edges are padded by
replication to the VAE's multiple of 4 and cropped back); ``H`` and ``W`` likewise.

The VAE must be the one the denoiser was trained with: ``vae_weights`` is checked against the
sha256 in the checkpoint's meta; a checkpoint trained on random VAE weights (no file) rebuilds
them from the recorded seed and checks their hash the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hounsfield.checkpoints.meta import read_meta
from hounsfield.checkpoints.weights import load_weights
from hounsfield.data.volumes.windowing import Window, apply_window
from hounsfield.recipes.slice_interp.chunking import decode_chunked, encode_chunked
from hounsfield.recipes.slice_interp.config import DiffusionConfig, VaeConfig
from hounsfield.recipes.slice_interp.model import SliceInterpDenoiser, build_denoiser, ddim_sample
from hounsfield.recipes.slice_interp.pairs import ThickMode, trilinear_baseline
from hounsfield.recipes.slice_interp.provenance import ProvenanceError, parse_provenance
from hounsfield.recipes.slice_interp.vae import DOWNSAMPLE, FrozenVAE


def trilinear_thin(thick: Tensor, factor: int, mode: ThickMode = "average") -> Tensor:
    """``(x, y, z)`` thick volume resampled trilinearly to ``z * factor`` slices (float32, CPU).

    Each thick slice is placed where ``mode`` took it from the thin slices (see
    :func:`~hounsfield.recipes.slice_interp.pairs.trilinear_baseline`): the centre of its slab
    for ``average``, the kept slice for ``subsample`` (half a slice later for an even ``factor``).
    """
    return torch.from_numpy(trilinear_baseline(thick.detach().cpu().numpy(), factor, mode))


def _pad_to(volume: Tensor, multiple: int) -> Tensor:
    pads: list[int] = []
    for size in reversed(volume.shape):
        pads += [0, -size % multiple]
    if not any(pads):
        return volume
    return F.pad(volume[None, None], pads, mode="replicate")[0, 0]


@dataclass
class SliceInterpModel:
    """A trained denoiser with its frozen VAE (see the module docstring)."""

    denoiser: SliceInterpDenoiser
    vae: FrozenVAE
    vae_config: VaeConfig
    diffusion: DiffusionConfig
    factor: int
    #: How training made the thick slices, which places them for the baseline (:meth:`trilinear`).
    mode: ThickMode
    scale: float
    window: str | tuple[float, float]
    device: torch.device

    @torch.no_grad()
    def interpolate_xyz(self, thick: Tensor, *, steps: int | None = None, seed: int = 0) -> Tensor:
        """Like :meth:`interpolate` for an ``(x, y, z)`` volume (z last, the canonical frame)."""
        if thick.ndim != 3:
            raise ValueError(f"thick volume must be 3-D, got shape {tuple(thick.shape)}")
        x, y, z = thick.shape
        padded = _pad_to(thick.float().cpu(), DOWNSAMPLE)
        chunks = self.vae_config.chunks()
        latent = encode_chunked(self.vae, padded[None, None], chunks).to(self.device) * self.scale
        thin_depth = latent.shape[-1] * self.factor
        generator = torch.Generator().manual_seed(seed)
        sample = ddim_sample(
            self.denoiser, self.diffusion, latent, thin_depth, steps=steps, generator=generator
        )
        volume = decode_chunked(self.vae, sample / self.scale, chunks)[0, 0]
        return volume[:x, :y, : z * self.factor].clamp(0.0, 1.0)

    def interpolate(self, thick_volume: Tensor, *, steps: int | None = None, seed: int = 0) -> Tensor:
        """``(D, H, W)`` thick slices -> ``(D * factor, H, W)`` thin slices (float32, CPU, ``[0, 1]``)."""
        if thick_volume.ndim != 3:
            raise ValueError(f"thick_volume must be (D, H, W), got shape {tuple(thick_volume.shape)}")
        thin = self.interpolate_xyz(thick_volume.permute(1, 2, 0), steps=steps, seed=seed)
        return thin.permute(2, 0, 1).contiguous()

    def trilinear(self, thick_volume: Tensor) -> Tensor:
        """The baseline: ``(D, H, W)`` -> ``(D * factor, H, W)`` by trilinear interpolation."""
        if thick_volume.ndim != 3:
            raise ValueError(f"thick_volume must be (D, H, W), got shape {tuple(thick_volume.shape)}")
        thin = trilinear_thin(thick_volume.permute(1, 2, 0), self.factor, self.mode)
        return thin.permute(2, 0, 1).contiguous()

    def window_hu(self, hu: Tensor) -> Tensor:
        """Hounsfield units -> the model's ``[0, 1]`` intensities (the training window)."""
        window = self.window if isinstance(self.window, str) else Window(*self.window)
        windowed = apply_window(np.asarray(hu.cpu().numpy(), dtype=np.float32), window, "0,1")
        return torch.from_numpy(windowed)


def load_for_inference(
    checkpoint_dir: Path, vae_weights: Path | None, device: torch.device | str
) -> SliceInterpModel:
    """The checkpoint's denoiser (eval mode) and its frozen VAE on ``device``.

    Raises ``ProvenanceError`` for a checkpoint that is not a slice_interp one, and ``ValueError``
    when ``vae_weights`` is not the VAE the checkpoint was trained with (or is missing for a
    checkpoint trained on pretrained weights), naming both hashes.
    """
    device = torch.device(device)
    meta = read_meta(checkpoint_dir)
    info = parse_provenance(meta.provenance, str(checkpoint_dir))
    if vae_weights is None and info.vae_pretrained:
        raise ValueError(
            f"{checkpoint_dir} was trained with pretrained VAE weights (sha256 {info.vae_sha256}); "
            "give vae_weights (the same file)"
        )
    vae = FrozenVAE(info.vae.config, weights=vae_weights, device=device, seed=info.vae_seed)
    if vae.weights_hash != info.vae_sha256:
        raise ValueError(
            f"VAE weights {vae_weights or '(random, seed ' + str(info.vae_seed) + ')'} have hash "
            f"{vae.weights_hash}, but {checkpoint_dir} was trained with {info.vae_sha256}"
        )
    geometry = info.pairs.geometry()
    denoiser = build_denoiser(info.denoiser, vae.arch.latent_channels)
    load_weights(denoiser, checkpoint_dir, strict=True)
    denoiser.to(device).eval()
    denoiser.requires_grad_(False)
    return SliceInterpModel(
        denoiser=denoiser,
        vae=vae,
        vae_config=info.vae,
        diffusion=info.diffusion,
        factor=geometry.factor,
        mode=geometry.mode,
        scale=info.scale,
        window=info.window,
        device=device,
    )


__all__ = ["ProvenanceError", "SliceInterpModel", "load_for_inference", "trilinear_thin"]
