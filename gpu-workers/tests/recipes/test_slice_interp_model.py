"""The slice_interp denoiser, noise schedules and DDIM sampling against simple references."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from hounsfield.recipes.slice_interp.config import DenoiserConfig, DiffusionConfig
from hounsfield.recipes.slice_interp.inference import trilinear_thin
from hounsfield.recipes.slice_interp.model import (
    build_denoiser,
    ddim_sample,
    diffusion_loss,
    resample_depth,
    training_scheduler,
)
from hounsfield.recipes.slice_interp.pairs import thicken

TINY = DenoiserConfig(
    channels=(8, 16),
    attention_levels=(False, False),
    num_res_blocks=1,
    num_head_channels=8,
    norm_num_groups=4,
)


class Oracle(nn.Module):
    """Predicts the exact noise (or v) of ``x_t`` for a known clean sample ``x0``."""

    def __init__(self, x0: Tensor, alphas_cumprod: Tensor, prediction: str) -> None:
        super().__init__()
        self.x0, self.alphas, self.prediction = x0, alphas_cumprod.double(), prediction

    def forward(self, noisy: Tensor, thick: Tensor, timesteps: Tensor) -> Tensor:
        a = self.alphas[int(timesteps[0])]
        eps = (noisy.double() - a.sqrt() * self.x0.double()) / (1 - a).sqrt()
        if self.prediction == "epsilon":
            return eps.float()
        return (a.sqrt() * eps - (1 - a).sqrt() * self.x0.double()).float()


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("schedule", ["linear", "scaled_linear", "cosine"])
def test_ddim_with_an_oracle_denoiser_returns_the_clean_sample(prediction: str, schedule: str) -> None:
    config = DiffusionConfig(
        timesteps=1000,
        schedule=schedule,  # type: ignore[arg-type]
        prediction=prediction,  # type: ignore[arg-type]
        ddim_steps=10,
        clip_sample=None,
    )
    x0 = torch.randn(1, 4, 4, 4, 6, generator=torch.Generator().manual_seed(1)) * 2.5  # beyond [-1, 1]
    oracle = Oracle(x0, training_scheduler(config).alphas_cumprod, prediction)
    thick = torch.zeros(1, 4, 4, 4, 2)
    sample = ddim_sample(oracle, config, thick, 6, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sample, x0, atol=1e-3)  # no clipping of the scaled latent


def test_clamping_keeps_an_untrained_denoisers_samples_bounded() -> None:
    """A zero-noise prediction (the UNet's zero-initialised output) at t = 999 of the cosine schedule:
    the clean-latent estimate divides by sqrt(alpha_bar) = 5e-5; clamped it stays in range."""
    torch.manual_seed(0)
    untrained = build_denoiser(TINY).eval()
    thick = torch.zeros(1, 4, 4, 4, 2)
    for clip, bounded in ((None, False), (4.0, True)):
        config = DiffusionConfig(schedule="cosine", ddim_steps=10, clip_sample=clip)
        sample = ddim_sample(untrained, config, thick, 10, generator=torch.Generator().manual_seed(0))
        assert (float(sample.abs().max()) <= 4.0 + 1e-4) == bounded


def test_trilinear_thin_matches_a_linear_ramp_at_the_slab_centres() -> None:
    factor, depth = 5, 6
    centres = torch.arange(depth, dtype=torch.float64) * factor + (factor - 1) / 2
    thick = (0.1 + 0.01 * centres).float().expand(3, 2, depth).contiguous()
    thin = trilinear_thin(thick, factor)
    assert thin.shape == (3, 2, depth * factor)
    z = torch.arange(depth * factor, dtype=torch.float64)
    inside = (z >= centres[0]) & (z <= centres[-1])  # outside the first/last centre it is held constant
    expected = 0.1 + 0.01 * z
    assert torch.allclose(thin[0, 0].double()[inside], expected[inside], atol=1e-6)
    assert torch.allclose(thin[0, 0, :2].double(), expected[2].expand(2), atol=1e-6)


@pytest.mark.parametrize("factor", [2, 4])
def test_trilinear_thin_places_subsampled_slices_where_they_were_taken(factor: int) -> None:
    """``subsample`` keeps thin slice ``k·f + f // 2``: for an even ``f`` half a slice after the slab
    centre that ``align_corners=False`` assumes, so a ramp comes back exactly only when placed there."""
    ramp = (torch.arange(8 * factor, dtype=torch.float32) / 100).expand(3, 2, 8 * factor).contiguous()
    thick = torch.from_numpy(thicken(ramp.numpy(), factor, "subsample"))
    kept = torch.arange(8) * factor + factor // 2
    assert torch.equal(thick[0, 0], ramp[0, 0, kept])
    thin = trilinear_thin(thick, factor, "subsample")
    inside = slice(int(kept[0]), int(kept[-1]) + 1)
    assert torch.allclose(thin[..., inside], ramp[..., inside], atol=1e-6)
    centred = trilinear_thin(thick, factor, "average")  # the slab centre: half a slice early
    assert float((centred[..., inside] - ramp[..., inside]).abs().max()) == pytest.approx(0.5 / 100, rel=1e-3)


def test_the_condition_is_resampled_to_the_thin_depth() -> None:
    thick = torch.randn(1, 4, 2, 2, 3)
    out = resample_depth(thick, 15)
    assert out.shape == (1, 4, 2, 2, 15)
    assert torch.allclose(out[..., 7], thick[..., 1])  # the middle slab's centre
    assert resample_depth(thick, 3) is thick


def test_latent_grids_the_unet_cannot_halve_are_padded_and_cropped() -> None:
    torch.manual_seed(0)
    model = build_denoiser(TINY).eval()
    noisy, thick = torch.randn(1, 4, 5, 6, 75), torch.randn(1, 4, 5, 6, 15)
    with torch.no_grad():
        out = model(noisy, thick, torch.tensor([10]))
    assert out.shape == noisy.shape


def test_gradient_checkpointing_gives_the_same_loss_and_gradients() -> None:
    torch.manual_seed(0)
    model = build_denoiser(TINY)
    scheduler = training_scheduler(DiffusionConfig())
    thin, thick = torch.randn(2, 4, 4, 4, 10), torch.randn(2, 4, 4, 4, 2)

    def run() -> tuple[Tensor, list[Tensor]]:
        model.zero_grad()
        torch.manual_seed(5)
        loss = diffusion_loss(model, scheduler, thin, thick, "epsilon")
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    plain_loss, plain_grads = run()
    model.set_gradient_checkpointing(True)
    checked_loss, checked_grads = run()
    model.set_gradient_checkpointing(False)
    assert torch.equal(plain_loss, checked_loss)
    assert len(plain_grads) == len(checked_grads) > 0
    for a, b in zip(plain_grads, checked_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert set(model.state_dict()) == {k for k in model.state_dict() if k.startswith("unet.")}


def test_denoiser_settings_that_cannot_build_name_the_field() -> None:
    with pytest.raises(ValueError, match="attention_levels"):
        DenoiserConfig(channels=(8, 16), attention_levels=(False,))
    with pytest.raises(ValueError, match="num_head_channels"):
        DenoiserConfig(
            channels=(8, 12), attention_levels=(False, False), num_head_channels=8, norm_num_groups=4
        )
    with pytest.raises(ValueError, match="ddim_steps"):
        DiffusionConfig(timesteps=10, ddim_steps=20)


def test_presets_and_unknown_keys() -> None:
    from hounsfield.recipes.slice_interp.recipe import RECIPE
    from hounsfield.trainers.config_base import apply_overrides
    from hounsfield.trainers.errors import TrainerError

    seed = RECIPE.preset("seed-maisi")
    assert (seed.pairs.thin_spacing_mm, seed.pairs.thick_spacing_mm, seed.pairs.in_plane) == (
        1.0,
        5.0,
        (512, 512),
    )
    assert (seed.global_batch, seed.max_per_device_batch) == (8, 1)  # batch 1 × accumulation 8
    assert (seed.optimizer.name, seed.optimizer.weight_decay, seed.lr_schedule.name) == (
        "adamw",
        0.01,
        "cosine",
    )
    assert seed.bf16 and seed.gradient_checkpointing and seed.diffusion.timesteps == 1000
    assert seed.diffusion.ddim_steps == 20 and seed.vae.config == "maisi"
    with pytest.raises(TrainerError, match=r"unknown key\(s\) \['weigths'\] in config.vae"):
        apply_overrides(RECIPE.preset("cpu-tiny"), {"vae": {"weigths": "/x"}})
    with pytest.raises(TrainerError, match="thin_slices"):
        apply_overrides(RECIPE.preset("cpu-tiny"), {"pairs": {"thinSlices": 42}})
