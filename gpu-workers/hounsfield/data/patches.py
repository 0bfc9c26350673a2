"""Patch grids over 3-D volumes and overlap blending of per-patch predictions.

**The grid.** Along each axis, patches start every ``stride`` voxels, and the last one is moved
back so that it ends flush with the border (``start = min(d * stride, size - patch)``): the volume
is covered without padding and every patch is the full size. Patch and stride are per axis in the
canonical ``(x, y, z)`` order (``hounsfield.data.volumes``); the defaults are the CTPA seed's
256×256×128 patches with stride 192×192×96 (an overlap of 0.25).

**Blending.** A patch prediction is weighted by a window and the weighted sum is divided by the
summed weights: ``gaussian`` (``exp(-d²/2σ²)`` per axis, ``σ = 0.125·patch``, peak 1, weights
clamped to ≥ 1e-3 so borders still count), ``tent`` (linear from the border to the centre, clamped
the same way) or ``constant`` (plain average). With ``stride = int(0.75·patch)`` and ``gaussian``,
:func:`sliding_window_reconstruct` computes what MONAI's ``sliding_window_inference(overlap=0.25,
mode="gaussian", sigma_scale=0.125)`` computes (tested to 1e-5).

**Memory.** At most ``patches_in_flight`` patches (times the batch) are on the predictor's device
at once; the stitched output and the weight sum stay on the CPU in float32, so a full 512×512×604
volume never has to fit on the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
from torch import Tensor

Shape3 = tuple[int, int, int]
BlendMode = Literal["gaussian", "tent", "constant"]
DEFAULT_PATCH: Shape3 = (256, 256, 128)
DEFAULT_STRIDE: Shape3 = (192, 192, 96)
GAUSSIAN_SIGMA_SCALE = 0.125
MIN_WEIGHT = 1e-3


def _triple(value: int | Sequence[int], name: str) -> Shape3:
    values = (value,) * 3 if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != 3 or any(v < 1 for v in values):
        raise ValueError(f"{name} must be one positive int or three (x, y, z), got {value!r}")
    return (values[0], values[1], values[2])


def axis_starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch starts along one axis: every ``stride``, the last flush with the border."""
    if patch > size:
        raise ValueError(f"patch {patch} is larger than the volume ({size}) along this axis; resample or pad")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    count = 1 if patch == size else math.ceil((size - patch) / stride) + 1
    return [min(d * stride, size - patch) for d in range(count)]


@dataclass(frozen=True)
class PatchGrid:
    """Patches of ``patch`` voxels every ``stride`` covering a volume of ``shape`` (all x, y, z)."""

    shape: Shape3
    patch: Shape3 = DEFAULT_PATCH
    stride: Shape3 = DEFAULT_STRIDE

    @classmethod
    def of(cls, shape: Sequence[int], patch: int | Sequence[int], stride: int | Sequence[int]) -> PatchGrid:
        grid = cls(_triple(shape, "volume shape"), _triple(patch, "patch"), _triple(stride, "stride"))
        grid.starts()  # validates patch <= shape on every axis
        return grid

    def starts(self) -> tuple[list[int], list[int], list[int]]:
        s = [axis_starts(n, p, st) for n, p, st in zip(self.shape, self.patch, self.stride, strict=True)]
        return (s[0], s[1], s[2])

    def positions(self) -> list[Shape3]:
        """Patch origins, x slowest and z fastest (MONAI's order)."""
        xs, ys, zs = self.starts()
        return [(x, y, z) for x in xs for y in ys for z in zs]

    def __len__(self) -> int:
        xs, ys, zs = self.starts()
        return len(xs) * len(ys) * len(zs)

    def slices(self, position: Shape3) -> tuple[slice, slice, slice]:
        x, y, z = position
        px, py, pz = self.patch
        return (slice(x, x + px), slice(y, y + py), slice(z, z + pz))


def blend_weights(patch: Sequence[int], mode: BlendMode = "gaussian") -> Tensor:
    """The float32 weight window of one patch (see the module docstring)."""
    size = _triple(patch, "patch")
    return _blend_weights(size, mode).clone()


@lru_cache(maxsize=8)
def _blend_weights(patch: Shape3, mode: BlendMode) -> Tensor:
    if mode == "constant":
        return torch.ones(patch, dtype=torch.float32)
    profiles = []
    for n in patch:
        if mode == "gaussian":
            x = torch.arange(-(n - 1) / 2.0, (n - 1) / 2.0 + 1, dtype=torch.float32)
            profiles.append(torch.exp(x**2 / (-2 * (GAUSSIAN_SIGMA_SCALE * n) ** 2)))
        elif mode == "tent":
            i = torch.arange(n, dtype=torch.float32)
            profiles.append(torch.minimum(i + 1, n - i) / math.ceil(n / 2))
        else:
            raise ValueError(f"unknown blend mode {mode!r}; choose gaussian, tent or constant")
    weights = profiles[0][:, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
    return weights.clamp_(min=max(float(weights.min()), MIN_WEIGHT))


def iter_patch_batches(grid: PatchGrid, batch: int) -> Iterator[list[Shape3]]:
    """Grid positions in groups of at most ``batch``."""
    positions = grid.positions()
    for start in range(0, len(positions), batch):
        yield positions[start : start + batch]


Predictor = Callable[[Tensor], Tensor]


def sliding_window_reconstruct(
    volume: Tensor,
    predictor: Predictor,
    patch: int | Sequence[int] = DEFAULT_PATCH,
    stride: int | Sequence[int] = DEFAULT_STRIDE,
    *,
    mode: BlendMode = "gaussian",
    patches_in_flight: int = 2,
    device: torch.device | str | None = None,
) -> Tensor:
    """Run ``predictor`` on every patch of ``volume`` (``B×C×X×Y×Z``, CPU) and blend the results.

    ``predictor`` maps ``(k·B)×C×patch`` on ``device`` (default: the volume's) to ``(k·B)×C'×patch``;
    ``k ≤ patches_in_flight`` patches per call. Returns the blended ``B×C'×X×Y×Z`` float32 on the CPU.
    """
    if volume.ndim != 5:
        raise ValueError(f"volume must be B×C×X×Y×Z, got shape {tuple(volume.shape)}")
    if patches_in_flight < 1:
        raise ValueError(f"patches_in_flight must be >= 1, got {patches_in_flight}")
    grid = PatchGrid.of(volume.shape[2:], patch, stride)
    target = torch.device(device) if device is not None else volume.device
    weights = _blend_weights(grid.patch, mode)
    batch = volume.shape[0]
    out: Tensor | None = None
    norm = torch.zeros(grid.shape, dtype=torch.float32)
    for group in iter_patch_batches(grid, patches_in_flight):
        inputs = torch.cat([volume[(slice(None), slice(None), *grid.slices(p))] for p in group])
        with torch.no_grad():
            predicted = predictor(inputs.to(target, non_blocking=True)).to("cpu", torch.float32)
        if out is None:
            out = torch.zeros((batch, predicted.shape[1], *grid.shape), dtype=torch.float32)
        for i, position in enumerate(group):
            region = (slice(None), slice(None), *grid.slices(position))
            out[region].addcmul_(predicted[i * batch : (i + 1) * batch], weights)
            norm[grid.slices(position)] += weights
    assert out is not None  # the grid has at least one patch
    return out.div_(norm)
