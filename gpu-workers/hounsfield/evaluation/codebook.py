"""Codebook health of vector-quantised models (VQ-VAE / VQGAN)."""

import math

import numpy as np
import numpy.typing as npt

from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode


def codebook_perplexity(indices: npt.ArrayLike, codebook_size: int) -> float:
    """Perplexity `exp(-Σ_k p_k ln p_k)` of the code-usage distribution.

    `p_k` is the fraction of `indices` equal to code k (0 ln 0 = 0). Ranges from 1.0 (one code
    used) to `codebook_size` (all codes equally often); 0.0 when `indices` is empty.
    """
    counts = _code_counts(indices, codebook_size)
    total = int(counts.sum())
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return math.exp(-float(np.sum(p * np.log(p))))


def codebook_usage(indices: npt.ArrayLike, codebook_size: int) -> float:
    """Fraction of the codebook's entries used at least once in `indices` (0.0 when empty)."""
    counts = _code_counts(indices, codebook_size)
    return float(np.count_nonzero(counts)) / codebook_size


def _code_counts(indices: npt.ArrayLike, codebook_size: int) -> npt.NDArray[np.int64]:
    if codebook_size < 1:
        raise EvaluationError(
            EvaluationErrorCode.INVALID_ARGUMENT, f"codebook_size must be >= 1: {codebook_size}"
        )
    flat = np.asarray(indices).ravel()
    if flat.size == 0:
        return np.zeros(codebook_size, dtype=np.int64)
    if not np.issubdtype(flat.dtype, np.integer):
        raise EvaluationError(
            EvaluationErrorCode.INVALID_ARGUMENT, f"indices must be integers, got {flat.dtype}"
        )
    if flat.min() < 0 or flat.max() >= codebook_size:
        raise EvaluationError(
            EvaluationErrorCode.INDEX_OUT_OF_RANGE,
            f"indices span [{flat.min()}, {flat.max()}], codebook has {codebook_size} entries",
        )
    return np.bincount(flat.astype(np.int64), minlength=codebook_size)
