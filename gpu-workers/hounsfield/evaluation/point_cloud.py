"""Distances between point clouds (generated vs ground-truth implant surfaces)."""

import math

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode


def chamfer_distance(points_a: npt.ArrayLike, points_b: npt.ArrayLike, *, chunk_size: int = 65_536) -> float:
    """Chamfer distance, unsquared, as in PCDiff and most point-cloud work.

    `CD(A, B) = mean_{a∈A} min_{b∈B} ||a - b|| + mean_{b∈B} min_{a∈A} ||a - b||` with Euclidean
    norms (not squared), in the units of the coordinates. Points are rows of `(N, D)` and `(M, D)`
    arrays. Nearest neighbours come from a k-d tree queried `chunk_size` points at a time, so
    memory is O(N + M) (no N×M matrix), e.g. a few MB for 30k points. Both sets empty: 0.0;
    exactly one empty: +inf.
    """
    a, b = _as_points(points_a), _as_points(points_b)
    if a.shape[1] != b.shape[1]:
        raise EvaluationError(
            EvaluationErrorCode.SHAPE_MISMATCH, f"points of dimension {a.shape[1]} and {b.shape[1]}"
        )
    if chunk_size < 1:
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, f"chunk_size must be >= 1: {chunk_size}")
    if len(a) == 0 and len(b) == 0:
        return 0.0
    if len(a) == 0 or len(b) == 0:
        return math.inf
    return _mean_nearest_distance(a, b, chunk_size) + _mean_nearest_distance(b, a, chunk_size)


def _as_points(points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2:
        raise EvaluationError(EvaluationErrorCode.SHAPE_MISMATCH, f"points must be (N, D), got {array.shape}")
    if not np.isfinite(array).all():
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, "points must be finite")
    return array


def _mean_nearest_distance(
    query: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], chunk_size: int
) -> float:
    """Mean over `query` of the distance to the nearest point of `targets`."""
    tree = cKDTree(targets)
    total = 0.0
    for start in range(0, len(query), chunk_size):
        distances, _ = tree.query(query[start : start + chunk_size], k=1)
        total += float(np.sum(distances))
    return total / len(query)
