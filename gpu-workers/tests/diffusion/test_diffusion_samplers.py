"""DDPM/DDIM samplers: DDIM(eta=1) == DDPM, determinism, skull preservation, truncation, ensembles."""

import pytest
import torch
from torch import Tensor

from hounsfield.diffusion import (
    NoiseSchedule,
    SamplerConfig,
    ScheduleConfig,
    ddim_coefficients,
    ddim_sample,
    ddim_timesteps,
    ddpm_coefficients,
    ddpm_sample,
    sample_implants,
)
from hounsfield.models.pvcnn2 import PVCNN2, PVCNN2Config

N_SKULL, N_IMPLANT = 12, 7  # skull and implant points of the toy clouds


def _schedule(T: int = 50) -> NoiseSchedule:
    # 1000/T-scaled linear betas keep a short chain as noisy at its end as PCDiff's at T = 1000.
    return NoiseSchedule.from_config(ScheduleConfig(num_timesteps=T, beta_start=2e-3, beta_end=0.4))


def _toy_denoiser(x: Tensor, t: Tensor) -> Tensor:
    """Deterministic, skull-dependent stand-in for the network."""
    skull_mean = x[:, :, :N_SKULL].mean(dim=2, keepdim=True)
    return torch.tanh(0.7 * x + 0.3 * skull_mean + (t.float() / 50.0)[:, None, None])


def _skull(batch: int = 2) -> Tensor:
    return torch.randn(batch, 3, N_SKULL, generator=torch.Generator().manual_seed(123))


def _oracle(schedule: NoiseSchedule, implant: Tensor):  # noqa: ANN202
    """Denoiser that knows the clean implant, so every x0 prediction is exact."""

    def denoise(x: Tensor, t: Tensor) -> Tensor:
        ab = schedule.alphas_cumprod[t].float().view(-1, 1, 1)
        eps = (x[:, :, N_SKULL:] - ab.sqrt() * implant) / (1 - ab).sqrt()
        return torch.cat([torch.zeros_like(x[:, :, :N_SKULL]), eps], dim=2)

    return denoise


@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_with_eta_one_over_all_steps_equals_ddpm(clip: tuple[float, float] | None) -> None:
    schedule, skull = _schedule(), _skull()
    ddpm = ddpm_sample(
        _toy_denoiser, schedule, skull, N_IMPLANT, clip_x0=clip, generator=torch.Generator().manual_seed(7)
    )
    ddim = ddim_sample(
        _toy_denoiser,
        schedule,
        skull,
        N_IMPLANT,
        eta=1.0,
        clip_x0=clip,
        generator=torch.Generator().manual_seed(7),
    )
    torch.testing.assert_close(ddim, ddpm, rtol=1e-5, atol=1e-5)
    different_noise = ddpm_sample(
        _toy_denoiser, schedule, skull, N_IMPLANT, generator=torch.Generator().manual_seed(8)
    )
    assert not torch.allclose(different_noise, ddpm, atol=1e-3)


def test_ddim_eta_one_coefficients_are_the_ddpm_posterior_at_t_1000() -> None:
    schedule = NoiseSchedule.from_config(ScheduleConfig())
    for t in range(1000):
        ddim, ddpm = ddim_coefficients(schedule, t, t - 1, eta=1.0), ddpm_coefficients(schedule, t)
        assert ddim.x0 == pytest.approx(ddpm.x0, rel=1e-9, abs=1e-12)
        assert ddim.x_t == pytest.approx(ddpm.x_t, rel=1e-9, abs=1e-12)
        assert ddim.sigma == pytest.approx(ddpm.sigma, rel=1e-9, abs=1e-12)


def test_ddim_eta_zero_is_deterministic_and_draws_only_the_initial_noise() -> None:
    schedule, skull = _schedule(), _skull()
    g = torch.Generator().manual_seed(3)
    first = ddim_sample(_toy_denoiser, schedule, skull, N_IMPLANT, steps=10, generator=g)
    after_sampling = g.get_state()
    g2 = torch.Generator().manual_seed(3)
    torch.randn(2, 3, N_IMPLANT, generator=g2)
    assert torch.equal(after_sampling, g2.get_state())
    second = ddim_sample(
        _toy_denoiser, schedule, skull, N_IMPLANT, steps=10, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(first, second)


def test_skull_points_are_returned_unchanged() -> None:
    schedule, skull = _schedule(), _skull()
    g = torch.Generator().manual_seed(0)
    for cloud in (
        ddpm_sample(_toy_denoiser, schedule, skull, N_IMPLANT, generator=g),
        ddim_sample(_toy_denoiser, schedule, skull, N_IMPLANT, steps=5, eta=0.5, generator=g),
    ):
        assert cloud.shape == (2, 3, N_SKULL + N_IMPLANT)
        assert torch.equal(cloud[:, :, :N_SKULL], skull)


def test_an_exact_denoiser_recovers_the_implant_with_every_sampler() -> None:
    schedule, skull = _schedule(), _skull(1)
    implant = torch.rand(1, 3, N_IMPLANT, generator=torch.Generator().manual_seed(4)) - 0.5
    oracle = _oracle(schedule, implant)
    runs = [
        ddpm_sample(oracle, schedule, skull, N_IMPLANT),
        ddim_sample(oracle, schedule, skull, N_IMPLANT, steps=10),
        ddim_sample(oracle, schedule, skull, N_IMPLANT, steps=4, t_start=20),
        ddim_sample(oracle, schedule, skull, N_IMPLANT, steps=3, t_start=10, init_implant=implant + 0.1),
    ]
    for cloud in runs:
        torch.testing.assert_close(cloud[:, :, N_SKULL:], implant, rtol=1e-4, atol=1e-4)


def test_timestep_spacing_and_truncation() -> None:
    ts = ddim_timesteps(999, 50)
    assert len(ts) == 50 and ts[0] == 999 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    assert ddim_timesteps(499, 10)[0] == 499
    assert ddim_timesteps(49, 50) == list(range(49, -1, -1))
    seen: list[int] = []

    def spy(x: Tensor, t: Tensor) -> Tensor:
        seen.append(int(t[0]))
        return _toy_denoiser(x, t)

    ddpm_sample(spy, _schedule(), _skull(), N_IMPLANT, t_start=19, generator=torch.Generator().manual_seed(0))
    assert seen == list(range(19, -1, -1))
    with pytest.raises(ValueError):
        ddim_timesteps(9, 11)


def test_clipping_keeps_the_prediction_in_range() -> None:
    schedule, skull = _schedule(), _skull()

    def wild(x: Tensor, t: Tensor) -> Tensor:
        return torch.full_like(x, -50.0)

    out = ddim_sample(
        wild, schedule, skull, N_IMPLANT, steps=5, clip_x0=(-3.0, 3.0), generator=torch.Generator()
    )
    assert out[:, :, N_SKULL:].abs().max() <= 3.0 + 1e-6
    unclipped = ddim_sample(wild, schedule, skull, N_IMPLANT, steps=5, generator=torch.Generator())
    assert unclipped[:, :, N_SKULL:].abs().max() > 100


def test_ensembles_are_sampled_in_one_batch() -> None:
    schedule, skull = _schedule(), _skull(2)
    batches: list[int] = []

    def spy(x: Tensor, t: Tensor) -> Tensor:
        batches.append(x.shape[0])
        return _toy_denoiser(x, t)

    config = SamplerConfig.ddim(steps=5, ensemble_size=5)
    clouds = sample_implants(
        spy, schedule, skull, N_IMPLANT, config, generator=torch.Generator().manual_seed(0)
    )
    assert clouds.shape == (2, 5, 3, N_SKULL + N_IMPLANT)
    assert batches == [10] * 5
    for b in range(2):
        assert torch.equal(clouds[b, :, :, :N_SKULL], skull[b].expand(5, 3, N_SKULL))
        assert not torch.allclose(clouds[b, 0, :, N_SKULL:], clouds[b, 1, :, N_SKULL:])
    ddpm = sample_implants(_toy_denoiser, schedule, skull, N_IMPLANT, SamplerConfig.ddpm(ensemble_size=3))
    assert ddpm.shape == (2, 3, 3, N_SKULL + N_IMPLANT)


def test_sampler_config_rejects_ddim_options_for_ddpm() -> None:
    with pytest.raises(ValueError):
        SamplerConfig(method="ddpm", steps=50)
    assert SamplerConfig.ddim().clip_x0 == (-3.0, 3.0)
    assert SamplerConfig.ddpm().clip_x0 is None


def test_tiny_pvcnn2_samples_an_ensemble_end_to_end() -> None:
    torch.manual_seed(0)
    model = PVCNN2(PVCNN2Config.tiny()).eval()
    skull = torch.randn(1, 3, 900, generator=torch.Generator().manual_seed(1))
    config = SamplerConfig.ddim(steps=3, ensemble_size=2)
    clouds = sample_implants(model, NoiseSchedule.from_config(ScheduleConfig()), skull, 100, config)
    assert clouds.shape == (1, 2, 3, 1000)
    assert torch.isfinite(clouds).all()
    assert torch.equal(clouds[0, :, :, :900], skull.expand(2, 3, 900))
