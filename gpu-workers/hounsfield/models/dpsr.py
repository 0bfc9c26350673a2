"""Differentiable Poisson surface reconstruction (DPSR, Peng et al., "Shape As Points", 2021).

Oriented points in the PSR unit cube ``[0, 1)^3`` (periodic; grid node ``g`` sits at
``u = g / R``) become an indicator field on an ``R^3`` grid:

1. splat the normals trilinearly onto the grid: ``v`` (``B x 3 x R^3``);
2. solve ``laplace(phi) = div(G * v)`` spectrally, with ``G`` a Gaussian low-pass whose transfer
   function is ``exp(-2 sigma^2 |k / R|^2)`` for integer frequencies ``k`` (Shape-as-Points'
   smoothing parameter, sigma = 2 in PCDiff). Odd-order derivatives drop the Nyquist mode, which
   keeps the operator real and exactly antisymmetric; the mean (DC) of phi is set to zero;
3. shift phi so that its mean over the input points is 0 and scale it so that the grid corner
   (always outside the shape) is +0.5, as Shape-as-Points does.

With outward normals the result is negative inside and positive outside, matching the psr_l2
target (-0.5 inside, +0.5 outside).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


def _resolution3(resolution: int | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(resolution, int):
        return (resolution, resolution, resolution)
    return (int(resolution[0]), int(resolution[1]), int(resolution[2]))


def _corners(points: torch.Tensor, res: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat grid indices and weights of the 8 trilinear neighbours of points in [0, 1)^3.

    Returns two ``(B, N, 8)`` tensors; indices wrap around the periodic border.
    """
    size = torch.tensor(res, device=points.device, dtype=points.dtype)
    x = points * size
    base = torch.floor(x)
    frac = (x - base).unsqueeze(-2)  # (B, N, 1, 3)
    offsets = torch.tensor(list(itertools.product((0, 1), repeat=3)), device=points.device)  # (8, 3)
    index = torch.remainder(base.long().unsqueeze(-2) + offsets, size.long())  # (B, N, 8, 3)
    weight = torch.prod(torch.where(offsets.bool(), frac, 1.0 - frac), dim=-1)  # (B, N, 8)
    flat = (index[..., 0] * res[1] + index[..., 1]) * res[2] + index[..., 2]
    return flat, weight


def rasterize(
    points: torch.Tensor, values: torch.Tensor, resolution: int | tuple[int, int, int]
) -> torch.Tensor:
    """Trilinear splatting: points ``(B, N, 3)`` in [0, 1), values ``(B, N, C)`` -> ``(B, C, *R)``."""
    res = _resolution3(resolution)
    batch, n, channels = values.shape
    flat, weight = _corners(points, res)
    contribution = (
        (values.unsqueeze(2) * weight.unsqueeze(-1)).reshape(batch, n * 8, channels).transpose(1, 2)
    )
    index = flat.reshape(batch, 1, n * 8).expand(-1, channels, -1)
    grid = values.new_zeros(batch, channels, math.prod(res)).scatter_add(2, index, contribution)
    return grid.view(batch, channels, *res)


def interpolate(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear, periodic sampling: grid ``(B, C, *R)``, points ``(B, N, 3)`` -> ``(B, N, C)``."""
    batch, channels = grid.shape[:2]
    n = points.shape[1]
    res = _resolution3((grid.shape[2], grid.shape[3], grid.shape[4]))
    flat, weight = _corners(points, res)
    index = flat.reshape(batch, 1, n * 8).expand(-1, channels, -1)
    neighbours = grid.reshape(batch, channels, -1).gather(2, index).view(batch, channels, n, 8)
    return (neighbours * weight.unsqueeze(1)).sum(dim=-1).transpose(1, 2)


def _angular_frequencies(n: int, half: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """2*pi*k for the (r)fft bins of an axis of length n on the unit interval."""
    make = torch.fft.rfftfreq if half else torch.fft.fftfreq
    return 2.0 * math.pi * make(n, d=1.0 / n, dtype=dtype, device=device)


def solve_poisson_spectral(normal_grid: torch.Tensor, sigma: float) -> torch.Tensor:
    """Solve ``laplace(phi) = div(G_sigma * v)`` on the periodic unit cube; ``(B, 3, *R) -> (B, *R)``."""
    res = _resolution3((normal_grid.shape[2], normal_grid.shape[3], normal_grid.shape[4]))
    dtype, device = normal_grid.dtype, normal_grid.device
    spectrum = torch.fft.rfftn(normal_grid, dim=(2, 3, 4))
    omegas = [_angular_frequencies(n, axis == 2, dtype, device) for axis, n in enumerate(res)]
    shapes = [(-1, 1, 1), (1, -1, 1), (1, 1, -1)]
    divergence = torch.zeros_like(spectrum[:, 0])
    laplacian = torch.zeros(spectrum.shape[2:], dtype=dtype, device=device)
    lowpass = torch.ones_like(laplacian)
    for axis, (omega, n, shape) in enumerate(zip(omegas, res, shapes, strict=True)):
        derivative = omega.clone()
        if n % 2 == 0:
            derivative[n // 2] = 0.0  # the Nyquist bin of an odd derivative
        divergence = divergence + 1j * derivative.view(shape) * spectrum[:, axis]
        laplacian = laplacian - omega.view(shape) ** 2
        # separable Gaussian: exp(-2 sigma^2 (k/R)^2) per axis, with omega = 2 pi k
        lowpass = lowpass * torch.exp(-2.0 * sigma**2 * (omega / (2.0 * math.pi * n)) ** 2).view(shape)
    laplacian[0, 0, 0] = 1.0  # the DC term is set to zero below; avoid 0/0
    phi_hat = divergence * lowpass / laplacian
    phi_hat[:, 0, 0, 0] = 0.0
    return torch.fft.irfftn(phi_hat, s=res, dim=(1, 2, 3))


class DPSR(nn.Module):
    """Oriented points -> indicator field (negative inside) on an ``R^3`` periodic grid."""

    def __init__(
        self,
        resolution: int | tuple[int, int, int],
        sigma: float = 2.0,
        shift: bool = True,
        scale: bool = True,
    ) -> None:
        super().__init__()
        self.resolution = _resolution3(resolution)
        self.sigma = sigma
        self.shift = shift
        self.scale = scale

    def forward(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """points, normals ``(B, N, 3)`` (points in [0, 1)) -> field ``(B, *R)``."""
        phi = solve_poisson_spectral(rasterize(points, normals, self.resolution), self.sigma)
        if self.shift:
            at_points = interpolate(phi.unsqueeze(1), points)[..., 0]  # (B, N)
            phi = phi - at_points.mean(dim=1).view(-1, 1, 1, 1)
        if self.scale:
            corner = phi[:, 0, 0, 0].abs().clamp_min(1e-12)
            phi = phi * (0.5 / corner).view(-1, 1, 1, 1)
        return phi
