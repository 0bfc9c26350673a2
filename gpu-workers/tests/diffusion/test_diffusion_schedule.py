"""Noise schedule against a float64 loop reference and the known DDPM terminal value."""

import math

import pytest
import torch

from hounsfield.diffusion import NoiseSchedule, ScheduleConfig


def _reference(T: int, start: float, end: float) -> dict[str, list[float]]:
    betas = [start + (end - start) * i / (T - 1) for i in range(T)]
    ac, prod = [], 1.0
    for b in betas:
        prod *= 1.0 - b
        ac.append(prod)
    prev = [1.0, *ac[:-1]]
    return {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": prev,
        "posterior_variance": [b * (1 - p) / (1 - a) for b, p, a in zip(betas, prev, ac, strict=True)],
        "posterior_mean_coef1": [b * math.sqrt(p) / (1 - a) for b, p, a in zip(betas, prev, ac, strict=True)],
        "posterior_mean_coef2": [
            (1 - p) * math.sqrt(1 - b) / (1 - a) for b, p, a in zip(betas, prev, ac, strict=True)
        ],
    }


def test_pcdiff_schedule_matches_float64_reference() -> None:
    schedule = NoiseSchedule.from_config(ScheduleConfig())
    assert schedule.num_timesteps == 1000
    for name, values in _reference(1000, 1e-4, 0.02).items():
        got = getattr(schedule, name)
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, torch.tensor(values, dtype=torch.float64), rtol=1e-12, atol=1e-15)
    assert schedule.posterior_variance[0] == 0.0


def test_terminal_signal_level_of_the_ddpm_linear_schedule() -> None:
    ab_T = NoiseSchedule.from_config(ScheduleConfig()).alphas_cumprod[-1].item()
    assert ab_T == pytest.approx(4.0358e-5, rel=1e-4)  # sqrt(alpha-bar_T) ~ 0.0064 (DDPM)


def test_q_sample_and_x0_prediction_are_inverse() -> None:
    schedule = NoiseSchedule.from_config(ScheduleConfig())
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 3, 10, generator=g), torch.randn(4, 3, 10, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    x_t = schedule.q_sample(x0, t, eps)
    ab = schedule.alphas_cumprod[t].view(4, 1, 1)
    expected = ab.sqrt() * x0.double() + (1 - ab).sqrt() * eps.double()
    torch.testing.assert_close(x_t.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(schedule.predict_x0(x_t, t, eps), x0, rtol=1e-3, atol=1e-3)


def test_invalid_schedules_are_rejected() -> None:
    with pytest.raises(ValueError):
        ScheduleConfig(beta_start=0.02, beta_end=1e-4)
    with pytest.raises(ValueError):
        NoiseSchedule.from_betas(torch.tensor([0.1, 1.5]))
