"""Pairwise distances under a memory budget, shared by ball query and three-NN search.

Both ops compare every query with every point. At paper sizes (30,720 points, 10,240 centres,
batch 8) a full float32 distance matrix would need ~10 GB, so they walk over the queries in
chunks whose pairwise matrix holds at most ``max_pairs`` entries (summed over the batch). The
default of 2**22 pairs keeps the working set of one chunk near 100 MB (float32 distances, int32
ranks, int64 scatter slots, masks); a chunk always holds at least one query.
"""

from torch import Tensor

DEFAULT_MAX_PAIRS = 1 << 22


def rows_per_chunk(batch: int, rows: int, cols: int, max_pairs: int = DEFAULT_MAX_PAIRS) -> int:
    """Query rows per chunk so that ``batch * rows_per_chunk * cols <= max_pairs`` (at least 1)."""
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be positive, got {max_pairs}")
    return max(1, min(rows, max_pairs // max(1, batch * cols)))


def squared_distance(queries: Tensor, points: Tensor) -> Tensor:
    """Squared distances ``(B, Q, P)`` between queries ``(B, 3, Q)`` and points ``(B, 3, P)``.

    Summed in the PVCNN kernels' order ``dx*dx + dy*dy + dz*dz`` rather than through the
    ``|a|^2 + |b|^2 - 2ab`` expansion, so radius tests and neighbour ranks agree bit for bit
    with a plain loop over the same float32 inputs. In-place updates keep the peak at two
    chunk-sized buffers; no gradient flows to coordinates, as in the kernels.
    """
    queries, points = queries.detach(), points.detach()
    d2 = queries[:, 0, :, None] - points[:, 0, None, :]
    d2.mul_(d2)
    for axis in (1, 2):
        delta = queries[:, axis, :, None] - points[:, axis, None, :]
        d2.add_(delta.mul_(delta))
    return d2
