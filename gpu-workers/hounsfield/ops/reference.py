"""Plain-loop references of the PVCNN ops, written to read like the CUDA kernels.

Slow by design: the tests compare the vectorised ops against these on small inputs and
``bench/pvcnn_ops.py`` times both. Arithmetic on coordinates stays in float32 numpy scalars, in
the kernels' order, so radius tests and neighbour ranks are comparable bit for bit.
"""

import numpy as np
import numpy.typing as npt
from torch import Tensor

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _f32(t: Tensor) -> FloatArray:
    return t.detach().cpu().numpy().astype(np.float32)


def _sq_dist(a: FloatArray, i: int, b: FloatArray, j: int) -> np.float32:
    dx = a[0, i] - b[0, j]
    dy = a[1, i] - b[1, j]
    dz = a[2, i] - b[2, j]
    return np.float32(dx * dx + dy * dy + dz * dz)


def ball_query_loop(centers: Tensor, points: Tensor, radius: float, num_neighbors: int) -> IntArray:
    """First ``K`` points (in index order) with ``d^2 < r^2``; pad with the first hit, else 0."""
    c, p = _f32(centers), _f32(points)
    batch, _, m = c.shape
    n = p.shape[2]
    r2 = np.float32(radius) * np.float32(radius)
    out = np.zeros((batch, m, num_neighbors), dtype=np.int64)
    for b in range(batch):
        for j in range(m):
            hits: list[int] = []
            for k in range(n):
                if len(hits) == num_neighbors:
                    break
                if _sq_dist(c[b], j, p[b], k) < r2:
                    hits.append(k)
            if hits:
                out[b, j] = hits + [hits[0]] * (num_neighbors - len(hits))
    return out


def farthest_point_sample_loop(coords: Tensor, num_samples: int) -> IntArray:
    """Iterative farthest point sampling from index 0; first index wins ties."""
    x = _f32(coords)
    batch, _, n = x.shape
    out = np.zeros((batch, num_samples), dtype=np.int64)
    for b in range(batch):
        dist = [np.float32(1e38)] * n
        last = 0
        for j in range(1, num_samples):
            best, best_i = np.float32(-1.0), 0
            for k in range(n):
                dist[k] = min(dist[k], _sq_dist(x[b], k, x[b], last))
                if dist[k] > best:
                    best, best_i = dist[k], k
            last = best_i
            out[b, j] = last
    return out


def three_nearest_neighbors_loop(points: Tensor, centers: Tensor) -> tuple[IntArray, FloatArray]:
    """Kernel-style insertion of the three nearest centres and their inverse-d^2 weights."""
    p, c = _f32(points), _f32(centers)
    batch, _, n = p.shape
    m = c.shape[2]
    idx = np.zeros((batch, 3, n), dtype=np.int64)
    wgt = np.zeros((batch, 3, n), dtype=np.float32)
    for b in range(batch):
        for j in range(n):
            best = [1e40, 1e40, 1e40]
            best_i = [0, 0, 0]
            for k in range(m):
                d = float(_sq_dist(p[b], j, c[b], k))
                if d < best[2]:
                    best[2], best_i[2] = d, k
                    if d < best[1]:
                        best[2], best_i[2] = best[1], best_i[1]
                        best[1], best_i[1] = d, k
                        if d < best[0]:
                            best[1], best_i[1] = best[0], best_i[0]
                            best[0], best_i[0] = d, k
            d0, d1, d2 = (np.float32(max(min(1e10, v), 1e-10)) for v in best)
            inv = np.float32(1.0) / (d0 * d1 + d0 * d2 + d1 * d2)
            wgt[b, :, j] = (d1 * d2 * inv, d0 * d2 * inv, d0 * d1 * inv)
            idx[b, :, j] = best_i
    return idx, wgt


def interpolate_features_loop(features: Tensor, idx: IntArray, wgt: FloatArray) -> FloatArray:
    """``out[b, c, j] = sum_i w[b, i, j] * f[b, c, idx[b, i, j]]``."""
    f = _f32(features)
    batch, channels, _ = f.shape
    n = idx.shape[2]
    out = np.zeros((batch, channels, n), dtype=np.float32)
    for b in range(batch):
        for j in range(n):
            for i in range(3):
                out[b, :, j] += wgt[b, i, j] * f[b, :, idx[b, i, j]]
    return out


def group_points_loop(features: Tensor, idx: IntArray) -> FloatArray:
    """``out[b, c, j, k] = f[b, c, idx[b, j, k]]``."""
    f = _f32(features)
    batch, channels, _ = f.shape
    _, m, k = idx.shape
    out = np.zeros((batch, channels, m, k), dtype=np.float32)
    for b in range(batch):
        for j in range(m):
            for u in range(k):
                out[b, :, j, u] = f[b, :, idx[b, j, u]]
    return out


def normalize_voxel_coords_loop(coords: Tensor, resolution: int, normalize: bool = True) -> FloatArray:
    """Per-point float64 version of PVCNN's coordinate normalisation (eps = 0)."""
    x = coords.detach().cpu().double().numpy()
    batch, _, n = x.shape
    out = np.zeros_like(x)
    for b in range(batch):
        mean = [sum(x[b, a, i] for i in range(n)) / n for a in range(3)]
        radius = max(sum((x[b, a, i] - mean[a]) ** 2 for a in range(3)) ** 0.5 for i in range(n))
        for i in range(n):
            for a in range(3):
                u = (
                    (x[b, a, i] - mean[a]) / (2.0 * radius) + 0.5
                    if normalize
                    else (x[b, a, i] - mean[a] + 1) / 2
                )
                out[b, a, i] = min(max(u * resolution, 0.0), resolution - 1.0)
    return out.astype(np.float32)


def avg_voxelize_loop(features: Tensor, voxel_coords: Tensor, resolution: int) -> FloatArray:
    """Average of the features of the points whose rounded coordinates hit each voxel."""
    f = _f32(features)
    v = voxel_coords.detach().cpu().numpy()
    batch, channels, n = f.shape
    r = resolution
    out = np.zeros((batch, channels, r, r, r), dtype=np.float64)
    for b in range(batch):
        count: dict[tuple[int, int, int], int] = {}
        for i in range(n):
            key = (int(np.round(v[b, 0, i])), int(np.round(v[b, 1, i])), int(np.round(v[b, 2, i])))
            count[key] = count.get(key, 0) + 1
            out[(b, slice(None), *key)] += f[b, :, i]
        for key, cnt in count.items():
            out[(b, slice(None), *key)] /= cnt
    return out.astype(np.float32)


def trilinear_devoxelize_loop(grid: Tensor, voxel_coords: Tensor) -> FloatArray:
    """Trilinear sampling with the upper corner clamped to the grid (weight 0 there anyway)."""
    g = grid.detach().cpu().double().numpy()
    v = voxel_coords.detach().cpu().double().numpy()
    batch, channels, r = g.shape[:3]
    n = v.shape[2]
    out = np.zeros((batch, channels, n), dtype=np.float64)
    for b in range(batch):
        for i in range(n):
            lo = [int(np.floor(v[b, a, i])) for a in range(3)]
            hi = [min(lo[a] + 1, r - 1) for a in range(3)]
            fr = [v[b, a, i] - lo[a] for a in range(3)]
            for cx, wx in ((lo[0], 1 - fr[0]), (hi[0], fr[0])):
                for cy, wy in ((lo[1], 1 - fr[1]), (hi[1], fr[1])):
                    for cz, wz in ((lo[2], 1 - fr[2]), (hi[2], fr[2])):
                        out[b, :, i] += wx * wy * wz * g[b, :, cx, cy, cz]
    return out.astype(np.float32)
