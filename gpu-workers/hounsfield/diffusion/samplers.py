"""Reverse-process samplers for skull-conditioned implant generation: DDPM and DDIM.

Both samplers denoise only the implant points; the skull points (first ``n_skull`` of the cloud)
are passed to the network unchanged at every step and returned unchanged.

* DDPM (Ho et al., 2020): ancestral sampling with the posterior ("fixed small") variance,
  x_{t-1} = c1_t x0_hat + c2_t x_t + sqrt(beta~_t) z, over every timestep.
* DDIM (Song et al., 2021): over a uniform sub-sequence of timesteps,
  x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps_hat + sigma z with
  sigma = eta sqrt((1 - ab_prev) / (1 - ab_t)) sqrt(1 - ab_t / ab_prev). eta = 0 is
  deterministic; eta = 1 over every timestep is exactly DDPM.
* Truncated schedules: ``t_start < T - 1`` starts the reverse chain at timestep ``t_start``
  instead of ``T - 1`` and only visits timesteps ``<= t_start``. The chain starts from pure
  noise (treating q(x_{t_start}) as N(0, I), an approximation that needs alpha-bar_{t_start}
  small: with the PCDiff schedule sqrt(alpha-bar) is 0.28 at t = 500, 0.08 at t = 700 and
  0.006 at t = 999), or, given ``init_implant``, from that coarse implant noised to level
  ``t_start`` (SDEdit-style refinement, where truncation is exact).

Every update is written as ``a x0_hat + b x_t + sigma z`` with scalar a, b, sigma computed in
float64; random draws come from ``generator`` in a fixed order (the initial noise, then one draw
per step whose sigma > 0), so two samplers fed the same generator see the same noise sequence.
A generator must live on the skull's device. Call with the network in eval mode.
"""

import math
from dataclasses import dataclass
from typing import Literal, Self

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from hounsfield.diffusion.denoiser import Denoiser
from hounsfield.diffusion.schedule import NoiseSchedule

PCDIFF_COORD_RANGE = (-3.0, 3.0)
"""PCDiff normalises each cloud so its longest bounding-box side spans [-3, 3]."""


class SamplerConfig(BaseModel):
    """How to sample implants; see :meth:`ddpm` and :meth:`ddim` for the usual settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["ddpm", "ddim"] = "ddpm"
    steps: int | None = Field(default=None, ge=1, description="DDIM steps; None = every timestep")
    eta: float = Field(default=0.0, ge=0.0, description="DDIM stochasticity (0 = deterministic)")
    t_start: int | None = Field(default=None, ge=0, description="first timestep; None = T - 1")
    clip_x0: tuple[float, float] | None = Field(default=None, description="clamp predicted x0 to range")
    ensemble_size: int = Field(default=1, ge=1, description="implants sampled per skull, in one batch")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.method == "ddpm" and (self.steps is not None or self.eta != 0.0):
            raise ValueError("steps and eta apply to DDIM only")
        if self.clip_x0 is not None and self.clip_x0[0] >= self.clip_x0[1]:
            raise ValueError("clip_x0 must be (low, high) with low < high")
        return self

    @classmethod
    def ddpm(cls, ensemble_size: int = 1) -> "SamplerConfig":
        """PCDiff's sampler: 1000 ancestral steps, no clipping."""
        return cls(method="ddpm", ensemble_size=ensemble_size)

    @classmethod
    def ddim(
        cls,
        steps: int = 50,
        eta: float = 0.0,
        ensemble_size: int = 1,
        clip_x0: tuple[float, float] | None = PCDIFF_COORD_RANGE,
    ) -> "SamplerConfig":
        """Deterministic DDIM; x0 clipped to the data range, without which few-step DDIM with a
        weak (e.g. CPU-tiny) network was seen to diverge."""
        return cls(method="ddim", steps=steps, eta=eta, ensemble_size=ensemble_size, clip_x0=clip_x0)


@dataclass(frozen=True)
class StepCoefficients:
    """One reverse step ``x_prev = x0 * x0_hat + x_t * x_t + sigma * z`` (float64 scalars)."""

    x0: float
    x_t: float
    sigma: float


def ddpm_coefficients(schedule: NoiseSchedule, t: int) -> StepCoefficients:
    """Posterior mean coefficients and standard deviation of q(x_{t-1} | x_t, x_0)."""
    return StepCoefficients(
        x0=float(schedule.posterior_mean_coef1[t]),
        x_t=float(schedule.posterior_mean_coef2[t]),
        sigma=math.sqrt(float(schedule.posterior_variance[t])),
    )


def ddim_coefficients(schedule: NoiseSchedule, t: int, t_prev: int, eta: float) -> StepCoefficients:
    """DDIM step from ``t`` to ``t_prev`` (``-1`` = the clean sample) in the x0/x_t form.

    eps_hat = (x_t - sqrt(ab_t) x0_hat) / sqrt(1 - ab_t) is substituted into the DDIM update, so
    a clipped x0_hat yields the matching eps_hat, as in PCDiff's ``ddim_sample``.
    """
    ab_t = float(schedule.alphas_cumprod[t])
    ab_prev = float(schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
    sigma = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * math.sqrt(1.0 - ab_t / ab_prev)
    c_eps = math.sqrt(max(0.0, 1.0 - ab_prev - sigma * sigma))
    x_t = c_eps / math.sqrt(1.0 - ab_t)
    return StepCoefficients(x0=math.sqrt(ab_prev) - x_t * math.sqrt(ab_t), x_t=x_t, sigma=sigma)


def ddim_timesteps(t_start: int, steps: int) -> list[int]:
    """Descending uniform sub-sequence of ``0..t_start`` with ``steps`` entries (PCDiff's spacing)."""
    if not 1 <= steps <= t_start + 1:
        raise ValueError(f"steps must be in [1, {t_start + 1}] for t_start={t_start}, got {steps}")
    grid = torch.linspace(0, t_start, steps, dtype=torch.float64).round().long()
    return sorted(set(grid.tolist()), reverse=True)


@torch.no_grad()
def ddpm_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    skull: Tensor,
    n_implant: int,
    *,
    t_start: int | None = None,
    init_implant: Tensor | None = None,
    clip_x0: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Ancestral DDPM sampling of ``n_implant`` points per skull ``(B, 3, S)`` -> ``(B, 3, S + I)``."""
    start = _start(schedule, t_start)
    plan = [(t, ddpm_coefficients(schedule, t)) for t in range(start, -1, -1)]
    return _reverse(denoiser, schedule, skull, n_implant, start, plan, init_implant, clip_x0, generator)


@torch.no_grad()
def ddim_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    skull: Tensor,
    n_implant: int,
    *,
    steps: int | None = None,
    eta: float = 0.0,
    t_start: int | None = None,
    init_implant: Tensor | None = None,
    clip_x0: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DDIM sampling over ``steps`` timesteps of ``0..t_start`` -> clouds ``(B, 3, S + n_implant)``."""
    start = _start(schedule, t_start)
    timesteps = ddim_timesteps(start, steps if steps is not None else start + 1)
    prevs = [*timesteps[1:], -1]
    plan = [(t, ddim_coefficients(schedule, t, p, eta)) for t, p in zip(timesteps, prevs, strict=True)]
    return _reverse(
        denoiser, schedule, skull, n_implant, timesteps[0], plan, init_implant, clip_x0, generator
    )


def sample_implants(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    skull: Tensor,
    n_implant: int,
    config: SamplerConfig,
    *,
    init_implant: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``config.ensemble_size`` implants for each skull ``(B, 3, S)``, sampled in one batch.

    Returns ``(B, ensemble_size, 3, S + n_implant)`` clouds (skull first, implant last).
    """
    e = config.ensemble_size
    skulls = skull.repeat_interleave(e, dim=0)
    init = init_implant.repeat_interleave(e, dim=0) if init_implant is not None else None
    if config.method == "ddpm":
        clouds = ddpm_sample(
            denoiser,
            schedule,
            skulls,
            n_implant,
            t_start=config.t_start,
            init_implant=init,
            clip_x0=config.clip_x0,
            generator=generator,
        )
    else:
        clouds = ddim_sample(
            denoiser,
            schedule,
            skulls,
            n_implant,
            steps=config.steps,
            eta=config.eta,
            t_start=config.t_start,
            init_implant=init,
            clip_x0=config.clip_x0,
            generator=generator,
        )
    return clouds.view(skull.shape[0], e, *clouds.shape[1:])


def _start(schedule: NoiseSchedule, t_start: int | None) -> int:
    last = schedule.num_timesteps - 1
    start = last if t_start is None else t_start
    if not 0 <= start <= last:
        raise ValueError(f"t_start must be in [0, {last}], got {start}")
    return start


def _reverse(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    skull: Tensor,
    n_implant: int,
    start: int,
    plan: list[tuple[int, StepCoefficients]],
    init_implant: Tensor | None,
    clip_x0: tuple[float, float] | None,
    generator: torch.Generator | None,
) -> Tensor:
    batch = skull.shape[0]
    shape = (batch, skull.shape[1], n_implant)
    noise = torch.randn(shape, generator=generator, device=skull.device, dtype=skull.dtype)
    if init_implant is None:
        implant = noise
    else:
        if init_implant.shape != shape:
            raise ValueError(f"init_implant must have shape {shape}, got {tuple(init_implant.shape)}")
        start_t = torch.full((batch,), start, dtype=torch.long, device=skull.device)
        implant = schedule.q_sample(init_implant.to(skull.dtype), start_t, noise)
    n_skull = skull.shape[2]
    for t, coef in plan:
        t_vec = torch.full((batch,), t, dtype=torch.long, device=skull.device)
        eps = denoiser(torch.cat([skull, implant], dim=2), t_vec)[:, :, n_skull:]
        x0 = schedule.predict_x0(implant, t_vec, eps)
        if clip_x0 is not None:
            x0 = x0.clamp(*clip_x0)
        implant = coef.x0 * x0 + coef.x_t * implant
        if coef.sigma > 0:
            z = torch.randn(shape, generator=generator, device=skull.device, dtype=skull.dtype)
            implant = implant + coef.sigma * z
    return torch.cat([skull, implant], dim=2)
