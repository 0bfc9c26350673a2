"""Gaussian diffusion noise schedule (Ho et al., 2020) as used by PCDiff.

All coefficients are computed and stored in float64 (as the DDPM/PCDiff code does) and cast to
the data's dtype only when applied, so long products such as alpha-bar stay accurate.
Timesteps are 0-based: ``t = 0`` is the first noising step and ``t = T - 1`` the last.
"""

from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor


class ScheduleConfig(BaseModel):
    """Beta schedule; the defaults are PCDiff's (T = 1000, linear 1e-4 -> 0.02)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["linear"] = "linear"
    num_timesteps: int = Field(default=1000, ge=1)
    beta_start: float = Field(default=1e-4, gt=0, lt=1)
    beta_end: float = Field(default=0.02, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> "ScheduleConfig":
        if self.beta_end < self.beta_start:
            raise ValueError("beta_end must not be smaller than beta_start")
        return self


def linear_betas(num_timesteps: int, beta_start: float, beta_end: float) -> Tensor:
    """``num_timesteps`` betas spaced linearly from ``beta_start`` to ``beta_end`` (float64)."""
    return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-timestep diffusion coefficients, float64 tensors of shape ``(T,)``.

    ``alphas_cumprod`` is alpha-bar_t = prod_{s<=t} (1 - beta_s); ``alphas_cumprod_prev`` shifts it
    by one with alpha-bar_{-1} = 1. The posterior q(x_{t-1} | x_t, x_0) has mean
    ``posterior_mean_coef1 * x_0 + posterior_mean_coef2 * x_t`` and variance
    ``posterior_variance`` (the "fixed small" variance, 0 at t = 0).
    """

    betas: Tensor
    alphas_cumprod: Tensor
    alphas_cumprod_prev: Tensor
    posterior_variance: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor

    @classmethod
    def from_betas(cls, betas: Tensor) -> "NoiseSchedule":
        """Derive every coefficient from ``betas`` in float64."""
        betas = betas.to(torch.float64)
        if betas.dim() != 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must be a 1-D tensor with values in (0, 1)")
        alphas = 1.0 - betas
        ac = torch.cumprod(alphas, dim=0)
        ac_prev = torch.cat([ac.new_ones(1), ac[:-1]])
        return cls(
            betas=betas,
            alphas_cumprod=ac,
            alphas_cumprod_prev=ac_prev,
            posterior_variance=betas * (1.0 - ac_prev) / (1.0 - ac),
            posterior_mean_coef1=betas * ac_prev.sqrt() / (1.0 - ac),
            posterior_mean_coef2=(1.0 - ac_prev) * alphas.sqrt() / (1.0 - ac),
        )

    @classmethod
    def from_config(cls, config: ScheduleConfig) -> "NoiseSchedule":
        """Build the schedule a :class:`ScheduleConfig` describes."""
        return cls.from_betas(linear_betas(config.num_timesteps, config.beta_start, config.beta_end))

    @property
    def num_timesteps(self) -> int:
        """T."""
        return int(self.betas.shape[0])

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Draw x_t ~ q(x_t | x_0) = N(sqrt(ab_t) x_0, (1 - ab_t) I) with the given ``noise``."""
        ab = self.alphas_cumprod
        return _at(ab.sqrt(), t, x0) * x0 + _at((1.0 - ab).sqrt(), t, x0) * noise

    def predict_x0(self, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """x_0 implied by x_t and the noise: ``(x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)``."""
        ab = self.alphas_cumprod
        return _at((1.0 / ab).sqrt(), t, x_t) * x_t - _at((1.0 / ab - 1.0).sqrt(), t, x_t) * eps


def _at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """``values[t]`` shaped ``(B, 1, ..., 1)`` to broadcast against ``like``, in ``like``'s dtype."""
    out = values.to(like.device)[t.to(like.device)]
    return out.to(like.dtype).reshape(t.shape[0], *([1] * (like.dim() - 1)))
