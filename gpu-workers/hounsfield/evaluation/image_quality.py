"""Intensity-volume quality metrics (PSNR, 3-D SSIM), computed in float64, and their summaries."""

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode

FloatVolume = npt.NDArray[np.float64]


def psnr(pred: npt.ArrayLike, ref: npt.ArrayLike, data_range: float) -> float:
    """Peak signal-to-noise ratio `10 log10(data_range² / MSE)` in dB; +inf when MSE is 0.

    `data_range` is the span of possible intensities (e.g. 1.0 for [0, 1] images, 4095 for
    12-bit CT); MSE is the mean over all voxels of `(pred - ref)²` in float64.
    """
    x, y = _as_float_pair(pred, ref)
    _check_data_range(data_range)
    mse = float(np.mean(np.square(x - y)))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def ssim3d(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    data_range: float,
    *,
    sigma: float = 1.5,
    truncate: float = 3.5,
    k1: float = 0.01,
    k2: float = 0.03,
    slab: int = 16,
) -> float:
    """Mean 3-D structural similarity (Wang et al. 2004) with a Gaussian window.

    Local statistics are Gaussian-weighted (σ = `sigma` voxels, window radius
    `int(truncate * sigma + 0.5)`, i.e. 11 taps for the defaults, weights normalised to 1):
    `μx, μy`, `σx² = E[x²] - μx²`, `σy²`, `σxy = E[xy] - μxμy` (population, not sample, moments).
    Per voxel `SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))` with
    `C1 = (k1 L)²`, `C2 = (k2 L)²`, `L = data_range`. The score is the mean over the voxels whose
    whole window lies inside the volume (no padding), which matches
    `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`. Work is done `slab` output slices at a time to bound memory.
    """
    x, y = _as_float_pair(pred, ref)
    _check_data_range(data_range)
    if x.ndim != 3:
        raise EvaluationError(EvaluationErrorCode.SHAPE_MISMATCH, f"ssim3d needs 3-D volumes, got {x.shape}")
    kernel = _gaussian_kernel(sigma, truncate)
    width = len(kernel)
    if min(x.shape) < width:
        raise EvaluationError(
            EvaluationErrorCode.VOLUME_TOO_SMALL, f"volume {x.shape} is smaller than the {width}-voxel window"
        )
    if slab < 1:
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, f"slab must be >= 1: {slab}")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    valid_depth = x.shape[0] - width + 1
    total, count = 0.0, 0
    for start in range(0, valid_depth, slab):
        stop = min(start + slab, valid_depth)
        xs, ys = x[start : stop + width - 1], y[start : stop + width - 1]
        mu_x, mu_y = _valid_smooth(xs, kernel), _valid_smooth(ys, kernel)
        var_x = _valid_smooth(xs * xs, kernel) - mu_x * mu_x
        var_y = _valid_smooth(ys * ys, kernel) - mu_y * mu_y
        cov_xy = _valid_smooth(xs * ys, kernel) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        total += float(ssim_map.sum())
        count += ssim_map.size
    return total / count


def _as_float_pair(pred: npt.ArrayLike, ref: npt.ArrayLike) -> tuple[FloatVolume, FloatVolume]:
    x, y = np.asarray(pred, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if x.shape != y.shape or x.size == 0:
        raise EvaluationError(
            EvaluationErrorCode.SHAPE_MISMATCH, f"volumes must be non-empty and equal: {x.shape} vs {y.shape}"
        )
    return x, y


def _check_data_range(data_range: float) -> None:
    if not (math.isfinite(data_range) and data_range > 0):
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, f"data_range must be > 0: {data_range}")


def _gaussian_kernel(sigma: float, truncate: float) -> FloatVolume:
    if not (sigma > 0 and truncate > 0):
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, f"sigma={sigma}, truncate={truncate}")
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def _valid_smooth(volume: FloatVolume, kernel: FloatVolume) -> FloatVolume:
    """Separable correlation with `kernel` along every axis, keeping only fully covered voxels."""
    out = volume
    for axis in range(volume.ndim):
        length = out.shape[axis] - len(kernel) + 1
        lead = (slice(None),) * axis
        acc = kernel[0] * out[lead + (slice(0, length),)]
        for tap in range(1, len(kernel)):
            acc += kernel[tap] * out[lead + (slice(tap, tap + length),)]
        out = acc
    return out


Summary = dict[str, dict[str, float]]


def metric_summary(metrics: Sequence[str], rows: Sequence[Mapping[str, float]]) -> Summary:
    """Mean, population std and median of each metric over the rows (finite values only); a metric
    with no finite value is left out."""
    summary = {}
    for metric in metrics:
        values = np.array([row[metric] for row in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            summary[metric] = {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "median": float(np.median(values)),
            }
    return summary
