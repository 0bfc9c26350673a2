"""PCDiff training objective: epsilon-prediction MSE on the implant points only."""

import torch
from torch import Tensor

from hounsfield.diffusion.denoiser import Denoiser
from hounsfield.diffusion.schedule import NoiseSchedule


def implant_noise_loss(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x0: Tensor,
    n_skull: int,
    *,
    t: Tensor | None = None,
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-sample loss ``(B,)``: mean squared error between true and predicted implant noise.

    ``x0 (B, 3, N)`` holds the clean skull points first and the implant points last (see
    :mod:`hounsfield.diffusion.layout`). Only the implant is noised to x_t; the skull is fed
    unchanged, and the prediction on skull points is ignored (PCDiff's ``p_losses``). ``t``
    defaults to uniform timesteps and ``noise`` to standard normal noise for the implant
    ``(B, 3, N - n_skull)``, both drawn from ``generator`` (on ``x0``'s device). Take
    ``.mean()`` for the batch loss.
    """
    batch = x0.shape[0]
    skull, implant = x0[:, :, :n_skull], x0[:, :, n_skull:]
    if implant.shape[2] == 0:
        raise ValueError(f"no implant points: n_skull={n_skull} covers all {x0.shape[2]} points")
    device = x0.device
    if t is None:
        t = torch.randint(0, schedule.num_timesteps, (batch,), generator=generator, device=device)
    if noise is None:
        noise = torch.randn(implant.shape, generator=generator, device=device, dtype=x0.dtype)
    x_t = torch.cat([skull, schedule.q_sample(implant, t, noise)], dim=2)
    eps = denoiser(x_t, t)[:, :, n_skull:]
    return (eps - noise).square().mean(dim=(1, 2))
