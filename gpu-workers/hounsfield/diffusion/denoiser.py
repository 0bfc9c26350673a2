"""The network interface the diffusion code needs."""

from collections.abc import Callable

from torch import Tensor

Denoiser = Callable[[Tensor, Tensor], Tensor]
"""``(x (B, 3, N), t (B,) int64) -> predicted noise (B, 3, N)``, e.g. a ``PVCNN2`` module."""
