"""Skull-conditioned point-cloud diffusion of PCDiff (Friedrich et al., MICCAI 2023).

Clouds are ``(B, 3, N)`` with the defective-skull points first and the implant points last
(:mod:`hounsfield.diffusion.layout`); only the implant is diffused. Schedules, the training
loss, DDPM/DDIM samplers (with truncation, x0 clipping and ensembles) and weight EMA.
"""

from hounsfield.diffusion.denoiser import Denoiser
from hounsfield.diffusion.ema import EMA
from hounsfield.diffusion.layout import ImplantLayout
from hounsfield.diffusion.loss import implant_noise_loss
from hounsfield.diffusion.samplers import (
    PCDIFF_COORD_RANGE,
    SamplerConfig,
    StepCoefficients,
    ddim_coefficients,
    ddim_sample,
    ddim_timesteps,
    ddpm_coefficients,
    ddpm_sample,
    sample_implants,
)
from hounsfield.diffusion.schedule import NoiseSchedule, ScheduleConfig, linear_betas

__all__ = [
    "EMA",
    "PCDIFF_COORD_RANGE",
    "Denoiser",
    "ImplantLayout",
    "NoiseSchedule",
    "SamplerConfig",
    "ScheduleConfig",
    "StepCoefficients",
    "ddim_coefficients",
    "ddim_sample",
    "ddim_timesteps",
    "ddpm_coefficients",
    "ddpm_sample",
    "implant_noise_loss",
    "linear_betas",
    "sample_implants",
]
