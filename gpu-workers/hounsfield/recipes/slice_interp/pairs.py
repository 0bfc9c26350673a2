"""(thick, thin) training pairs from thin-slice CT volumes.

Volumes are in the canonical frame of :mod:`hounsfield.data.volumes` (array axes ``(x, y, z)``,
``z`` along the slices, ``spacing`` in mm per axis). A pair is a block of ``thin_slices``
consecutive thin slices (the target) and the thick volume a thick acquisition of the same block
would give: ``thick_slices = thin_slices / factor`` slices, ``factor = thick / thin spacing``,

* ``average`` (default) — thick slice ``k`` is the mean of thin slices ``k·f … k·f + f − 1`` (a
  thick slice measures its whole slab);
* ``subsample`` — thick slice ``k`` is thin slice ``k·f + f // 2`` (the slab's centre slice).

Presets (:data:`PAIR_PRESETS`): ``paper`` — 1 mm → 5 mm at 512×512 with 300 thin slices (60
thick). The field report writes "50 × 5 mm → 300 × 1 mm", which cannot both hold (50 × 5 mm =
250 mm, 300 × 1 mm = 300 mm); the spacings are kept, so its thick side has 60 slices. ``cpu-tiny``
— 32×32, 40 thin 1 mm slices, 8 thick 5 mm slices. Every size is a multiple of 4 (the VAE's
downsampling). Geometry that does not divide is refused with the field to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.recipes.slice_interp.vae import DOWNSAMPLE

ThickMode = Literal["average", "subsample"]
_SPACING_RTOL = 1e-3


@dataclass(frozen=True)
class PairGeometry:
    """What a pair looks like: spacings in mm, in-plane size (x, y), thin slices per pair, thick mode."""

    thin_spacing_mm: float
    thick_spacing_mm: float
    in_plane: tuple[int, int]
    thin_slices: int
    mode: ThickMode = "average"

    def __post_init__(self) -> None:
        if not (self.thin_spacing_mm > 0 and self.thick_spacing_mm > 0):
            raise ValueError("thin_spacing_mm and thick_spacing_mm must be positive")
        ratio = self.thick_spacing_mm / self.thin_spacing_mm
        if ratio < 2 - _SPACING_RTOL or abs(ratio - round(ratio)) > _SPACING_RTOL * ratio:
            raise ValueError(
                f"thick_spacing_mm {self.thick_spacing_mm} must be an integer multiple (≥ 2) of "
                f"thin_spacing_mm {self.thin_spacing_mm} (ratio {ratio:.4g})"
            )
        if self.thin_slices % self.factor:
            raise ValueError(
                f"thin_slices {self.thin_slices} must be a multiple of the spacing ratio {self.factor} "
                f"(e.g. {self.factor * max(1, self.thin_slices // self.factor)})"
            )
        for name, value in (("thin_slices", self.thin_slices), ("thick slices", self.thick_slices)):
            if value % DOWNSAMPLE:
                raise ValueError(
                    f"{name} ({value}) must be a multiple of {DOWNSAMPLE} for the VAE; "
                    f"change thin_slices (a multiple of {self.factor * DOWNSAMPLE})"
                )
        if self.mode not in ("average", "subsample"):
            raise ValueError(f"mode must be 'average' or 'subsample', got {self.mode!r}")
        if any(n <= 0 or n % DOWNSAMPLE for n in self.in_plane):
            raise ValueError(f"in_plane {self.in_plane} must be positive multiples of {DOWNSAMPLE}")

    @property
    def factor(self) -> int:
        return round(self.thick_spacing_mm / self.thin_spacing_mm)

    @property
    def thick_slices(self) -> int:
        return self.thin_slices // self.factor

    def describe(self) -> dict[str, Any]:
        return {
            "thinSpacingMm": self.thin_spacing_mm,
            "thickSpacingMm": self.thick_spacing_mm,
            "inPlane": list(self.in_plane),
            "thinSlices": self.thin_slices,
            "thickSlices": self.thick_slices,
            "mode": self.mode,
        }


PAIR_PRESETS: dict[str, PairGeometry] = {
    "paper": PairGeometry(thin_spacing_mm=1.0, thick_spacing_mm=5.0, in_plane=(512, 512), thin_slices=300),
    "cpu-tiny": PairGeometry(thin_spacing_mm=1.0, thick_spacing_mm=5.0, in_plane=(32, 32), thin_slices=40),
}


@dataclass(frozen=True)
class SlicePair:
    """``thick`` ``(x, y, thick_slices)`` and ``thin`` ``(x, y, thin_slices)`` (float32, same x/y grid)."""

    thick: npt.NDArray[np.float32]
    thin: npt.NDArray[np.float32]
    z_start: int  # first thin slice of the source volume in this pair


def thicken(thin: npt.NDArray[Any], factor: int, mode: ThickMode = "average") -> npt.NDArray[np.float32]:
    """Thick slices from thin ones along the last axis (its length must be a multiple of ``factor``)."""
    depth = thin.shape[-1]
    if factor < 1 or depth % factor:
        raise ValueError(f"depth {depth} is not a multiple of the thickening factor {factor}")
    data = np.asarray(thin, dtype=np.float32)
    if mode == "average":
        slabs = data.reshape(*data.shape[:-1], depth // factor, factor)
        return slabs.mean(axis=-1, dtype=np.float64).astype(np.float32)
    if mode == "subsample":
        return np.ascontiguousarray(data[..., factor // 2 :: factor])
    raise ValueError(f"mode must be 'average' or 'subsample', got {mode!r}")


def trilinear_baseline(thick: npt.NDArray[Any], factor: int, mode: ThickMode) -> npt.NDArray[np.float32]:
    """The baseline every score is compared with: thick slices ``(x, y, n)`` linearly interpolated
    along z to ``n · factor`` thin slices, each thick slice placed where :func:`thicken` took it.

    For an unchanged in-plane grid this is trilinear interpolation. A thick slice sits at thin
    position ``k·f + (f − 1)/2`` for ``average`` (its slab's centre: what
    ``F.interpolate(mode="trilinear", align_corners=False)`` assumes) and at ``k·f + f // 2`` for
    ``subsample`` (the slice it kept: half a slice later for an even ``f``); beyond the first and
    last it is held. Training validation, evaluation and the inference API all use this one.
    """
    n = thick.shape[-1]
    centre = (factor - 1) / 2 if mode == "average" else float(factor // 2)
    position = np.clip((np.arange(n * factor, dtype=np.float64) - centre) / factor, 0.0, n - 1.0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    weight = position - below
    data = np.asarray(thick, dtype=np.float64)
    out = data[..., below] * (1.0 - weight) + data[..., above] * weight
    return out.astype(np.float32)


def pair_starts(depth: int, geometry: PairGeometry) -> list[int]:
    """First thin slice of each non-overlapping pair that fits in ``depth`` slices, centred as a group."""
    count = depth // geometry.thin_slices
    if count == 0:
        return []
    offset = (depth - count * geometry.thin_slices) // 2
    return [offset + i * geometry.thin_slices for i in range(count)]


def make_pair(
    volume: npt.NDArray[Any],
    spacing: tuple[float, float, float],
    geometry: PairGeometry,
    *,
    z_start: int | None = None,
    case_id: str = "volume",
) -> SlicePair:
    """The pair starting at thin slice ``z_start`` of ``volume`` (default: the centred block).

    Raises :class:`DataError` naming what does not fit: a z spacing other than
    ``thin_spacing_mm`` (resample with ``target_spacing``), another in-plane size (``in_plane``),
    too few slices (``thin_slices``) or a ``z_start`` outside the volume.
    """
    if volume.ndim != 3:
        raise DataError(
            DataErrorCode.NOT_3D, f"{case_id}: expected an (x, y, z) volume, got shape {volume.shape}"
        )
    if not math.isclose(spacing[2], geometry.thin_spacing_mm, rel_tol=_SPACING_RTOL):
        raise DataError(
            DataErrorCode.SPACING_MISMATCH,
            f"{case_id}: z spacing {spacing[2]:.4g} mm differs from "
            f"thin_spacing_mm {geometry.thin_spacing_mm}; "
            "resample the volumes (target_spacing) or change thin_spacing_mm",
        )
    if tuple(volume.shape[:2]) != tuple(geometry.in_plane):
        raise DataError(
            DataErrorCode.UNEXPECTED_SHAPE,
            f"{case_id}: in-plane size {tuple(volume.shape[:2])} differs from in_plane {geometry.in_plane}; "
            "resample/crop the volumes or change in_plane",
        )
    depth = volume.shape[2]
    if depth < geometry.thin_slices:
        raise DataError(
            DataErrorCode.TOO_SMALL,
            f"{case_id}: {depth} slices, fewer than thin_slices {geometry.thin_slices}; "
            "lower thin_slices or exclude the case",
        )
    start = pair_starts(depth, geometry)[0] if z_start is None else z_start
    if not 0 <= start <= depth - geometry.thin_slices:
        raise DataError(
            DataErrorCode.TOO_SMALL,
            f"{case_id}: z_start {start} leaves fewer than thin_slices "
            f"{geometry.thin_slices} of {depth} slices",
        )
    thin = np.ascontiguousarray(volume[:, :, start : start + geometry.thin_slices], dtype=np.float32)
    return SlicePair(thick=thicken(thin, geometry.factor, geometry.mode), thin=thin, z_start=start)
