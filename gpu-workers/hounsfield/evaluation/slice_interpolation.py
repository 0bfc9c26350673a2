"""Scoring one thin-slice volume for slice interpolation: the model and the trilinear baseline.

A case is a prepared thin-slice volume (``(x, y, z)``, intensities in ``[0, 1]``). Its thick input
is made exactly as training made it (:func:`hounsfield.recipes.slice_interp.pairs.make_pair`: each
non-overlapping block of ``thin_slices`` thin slices, centred as a group, thickened by slab average
or subsampling). Each block's thick input is interpolated back to the thin grid twice:

* by the model (any ``thick -> thin`` callable; the evaluator passes the trained one), its output
  clipped to the data range;
* by **trilinear** interpolation (:func:`~hounsfield.recipes.slice_interp.pairs.trilinear_baseline`,
  the same baseline as training validation's ``val.*_trilinear``): linear interpolation along z
  between the thick slices' centres (slab centre ``k·f + (f − 1)/2`` for ``average``, the sampled
  slice ``k·f + f // 2`` for ``subsample``), holding the first/last thick slice beyond them.

The blocks are joined along z and scored against the thin ground truth: PSNR and 3-D SSIM
(:mod:`hounsfield.evaluation.image_quality`, data range 1) of the model (``psnr``, ``ssim``) and of
the baseline (``psnr_trilinear``, ``ssim_trilinear``).

The preview is a **coronal reformat** (the x–z plane at mid y), where the z-resolution gain shows:
thick input (each thick slice repeated over its slab) | trilinear | model | thin ground truth,
superior (high z) up, grey. Pixels are made about square in mm (columns repeated
``round(x spacing / z spacing)`` times, or rows the other way round), then each panel is scaled by a
whole number so that it is at least :data:`PREVIEW_MIN_HEIGHT` pixels high.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.recipes.slice_interp.pairs import PairGeometry, make_pair, pair_starts, trilinear_baseline

FloatVolume = npt.NDArray[np.float32]
#: ``thick (x, y, z_thick) -> thin (x, y, z_thin)`` in the data range.
Interpolate = Callable[[FloatVolume], npt.NDArray[Any]]

METRICS = ("psnr", "ssim", "psnr_trilinear", "ssim_trilinear")
PREVIEW_MIN_HEIGHT = 160
PREVIEW_GAP = 4


@dataclass(frozen=True)
class CaseInterpolation:
    """One case's scores, its volumes on the evaluated thin slices and its preview (8-bit grey)."""

    metrics: dict[str, float]  # METRICS
    thin: FloatVolume
    model: FloatVolume
    trilinear: FloatVolume
    thick_repeated: FloatVolume
    preview: npt.NDArray[np.uint8]


def interpolate_case(
    interpolate: Interpolate,
    volume: npt.NDArray[Any],
    spacing: tuple[float, float, float],
    geometry: PairGeometry,
    *,
    case_id: str = "volume",
    data_range: float = 1.0,
) -> CaseInterpolation:
    """Thicken every block of ``volume``, interpolate it back both ways and score (module docstring).

    Raises :class:`DataError` naming the setting when the volume does not fit the geometry (too
    few slices, another spacing or in-plane size), and ``ValueError`` when the model returns
    another shape than the thin block.
    """
    starts = pair_starts(volume.shape[2], geometry) if volume.ndim == 3 else [0]
    if not starts:
        raise DataError(
            DataErrorCode.TOO_SMALL,
            f"{case_id}: {volume.shape[2]} slices, fewer than the checkpoint's thin_slices "
            f"{geometry.thin_slices}; evaluate volumes of at least that many slices",
        )
    thins, models, trilinears, thicks = [], [], [], []
    for start in starts:
        pair = make_pair(volume, spacing, geometry, z_start=start, case_id=case_id)
        predicted = np.asarray(interpolate(pair.thick), dtype=np.float32)
        if predicted.shape != pair.thin.shape:
            raise ValueError(
                f"{case_id}: the model turned thick {pair.thick.shape} into {predicted.shape}, "
                f"not the thin block's {pair.thin.shape}"
            )
        thins.append(pair.thin)
        models.append(np.clip(predicted, 0.0, data_range))
        trilinears.append(trilinear_baseline(pair.thick, geometry.factor, geometry.mode))
        thicks.append(np.repeat(pair.thick, geometry.factor, axis=2))
    thin, model, trilinear, thick = (
        np.concatenate(parts, axis=2) for parts in (thins, models, trilinears, thicks)
    )
    metrics = {
        "psnr": psnr(model, thin, data_range),
        "ssim": ssim3d(model, thin, data_range),
        "psnr_trilinear": psnr(trilinear, thin, data_range),
        "ssim_trilinear": ssim3d(trilinear, thin, data_range),
    }
    preview = coronal_preview([thick, trilinear, model, thin], data_range, (spacing[0], spacing[2]))
    return CaseInterpolation(metrics, thin, model, trilinear, thick, preview)


def coronal_preview(
    volumes: list[npt.NDArray[Any]], data_range: float = 1.0, spacing_xz: tuple[float, float] = (1.0, 1.0)
) -> npt.NDArray[np.uint8]:
    """The mid-y coronal plane of each ``(x, y, z)`` volume side by side: rows z (superior up), columns x."""
    shape = volumes[0].shape
    if any(v.shape != shape for v in volumes) or len(shape) != 3:
        raise ValueError(f"expected 3-D volumes of one shape, got {[v.shape for v in volumes]}")
    y = shape[1] // 2
    ratio = spacing_xz[0] / spacing_xz[1]
    rows, columns = max(1, round(1 / ratio)), max(1, round(ratio))
    scale = max(1, -(-PREVIEW_MIN_HEIGHT // (shape[2] * rows)))
    block = np.ones((rows * scale, columns * scale), dtype=np.uint8)
    panels = []
    for volume in volumes:
        plane = np.asarray(volume[:, y, :], dtype=np.float64).T[::-1]  # (z, x), high z on top
        grey = np.round(np.clip(plane / data_range, 0.0, 1.0) * 255).astype(np.uint8)
        panels.append(np.kron(grey, block))
    gap = np.zeros((panels[0].shape[0], PREVIEW_GAP), dtype=np.uint8)
    row = [part for panel in panels for part in (panel, gap)][:-1]
    return np.concatenate(row, axis=1)
