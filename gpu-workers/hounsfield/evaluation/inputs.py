"""Validation of the arrays and voxel spacings handed to the metrics."""

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode

BoolVolume = npt.NDArray[np.bool_]
Spacing = tuple[float, ...]


def as_mask(array: npt.ArrayLike) -> BoolVolume:
    """Boolean view of `array`: foreground wherever it is non-zero (no copy for bool input)."""
    return np.asarray(array).astype(np.bool_, copy=False)


def as_same_shape_masks(*arrays: npt.ArrayLike) -> list[BoolVolume]:
    """Boolean masks of identical shape, or `SHAPE_MISMATCH`."""
    masks = [as_mask(array) for array in arrays]
    shapes = {mask.shape for mask in masks}
    if len(shapes) > 1:
        raise EvaluationError(EvaluationErrorCode.SHAPE_MISMATCH, f"masks have shapes {sorted(shapes)}")
    return masks


def as_spacing(spacing: float | Sequence[float], ndim: int) -> Spacing:
    """Per-axis voxel spacing in mm: one positive finite number per axis (a scalar is broadcast)."""
    array = np.asarray(spacing, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(ndim, float(array))
    if array.shape != (ndim,):
        raise EvaluationError(
            EvaluationErrorCode.INVALID_SPACING, f"spacing of shape {array.shape} for a {ndim}-D volume"
        )
    values = tuple(float(s) for s in array)
    if not all(math.isfinite(s) and s > 0 for s in values):
        raise EvaluationError(EvaluationErrorCode.INVALID_SPACING, f"spacing must be positive: {values}")
    return values


def volume_diagonal_mm(shape: tuple[int, ...], spacing: Spacing) -> float:
    """Largest distance between two voxel centres of the volume: the worst HD95 a volume allows."""
    return math.sqrt(sum(((n - 1) * s) ** 2 for n, s in zip(shape, spacing, strict=True)))
