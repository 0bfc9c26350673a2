"""Benchmark: vectorised PVCNN ops (hounsfield.ops) vs their plain-loop references.

Run: `OMP_NUM_THREADS=1 gpu-workers/.venv/bin/python gpu-workers/bench/pvcnn_ops.py`. Inputs are
uniform random points in the unit cube (one cloud). The first table times every op against the
kernel-style loop in `hounsfield.ops.reference` at a moderate size and says whether the results
agree (indices exactly, values to 1e-5). The second table times the vectorised ops alone at the
sizes of PCDiff's first set-abstraction stage (30,720 points, 10,240 centres), where the loops
would take hours. Vectorised times are the best of a few runs after a warm-up; loops run once.
Takes about a minute on one CPU thread.
"""

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hounsfield import ops
from hounsfield.ops import reference


@dataclass(frozen=True)
class Case:
    name: str
    size: str
    ours: Callable[[], Any]
    loop: Callable[[], Any]
    agree: Callable[[Any, Any], bool]


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def same_indices(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def close(a: Any, b: Any) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-5))


def moderate_cases(n: int, m: int, channels: int, resolution: int, k: int) -> list[Case]:
    g = torch.Generator().manual_seed(0)
    points = torch.rand(1, 3, n, generator=g)
    features = torch.randn(1, channels, n, generator=g)
    centers = ops.gather_points(points, ops.farthest_point_sample(points, m))
    center_features = torch.randn(1, channels, m, generator=g)
    nbr = ops.ball_query(centers, points, 0.1, k)
    idx, w = ops.three_nearest_neighbors(points, centers)
    voxel_coords = ops.normalize_voxel_coords(points, resolution)
    grid = torch.randn(1, channels, resolution, resolution, resolution, generator=g)
    nn_ref = reference.three_nearest_neighbors_loop
    return [
        Case(
            "farthest_point_sample", f"N={n} M={m}",
            lambda: ops.farthest_point_sample(points, m).numpy(),
            lambda: reference.farthest_point_sample_loop(points, m), same_indices,
        ),
        Case(
            "ball_query r=0.1", f"N={n} M={m} K={k}",
            lambda: ops.ball_query(centers, points, 0.1, k).numpy(),
            lambda: reference.ball_query_loop(centers, points, 0.1, k), same_indices,
        ),
        Case(
            "group_points", f"C={channels} M={m} K={k}",
            lambda: ops.group_points(features, nbr).numpy(),
            lambda: reference.group_points_loop(features, nbr.numpy()), close,
        ),
        Case(
            "three_nearest_neighbors", f"N={n} M={m}",
            lambda: tuple(t.numpy() for t in ops.three_nearest_neighbors(points, centers)),
            lambda: nn_ref(points, centers),
            lambda a, b: same_indices(a[0], b[0]) and close(a[1], b[1]),
        ),
        Case(
            "interpolate_features", f"C={channels} N={n}",
            lambda: ops.interpolate_features(center_features, idx, w).numpy(),
            lambda: reference.interpolate_features_loop(center_features, idx.numpy(), w.numpy()), close,
        ),
        Case(
            "avg_voxelize", f"C={channels} N={n} R={resolution}",
            lambda: ops.avg_voxelize(features, voxel_coords, resolution).numpy(),
            lambda: reference.avg_voxelize_loop(features, voxel_coords, resolution), close,
        ),
        Case(
            "trilinear_devoxelize", f"C={channels} N={n} R={resolution}",
            lambda: ops.trilinear_devoxelize(grid, voxel_coords).numpy(),
            lambda: reference.trilinear_devoxelize_loop(grid, voxel_coords), close,
        ),
    ]  # fmt: skip


def paper_cases() -> list[tuple[str, str, Callable[[], Any]]]:
    g = torch.Generator().manual_seed(1)
    points = torch.rand(1, 3, 30_720, generator=g)
    features = torch.randn(1, 32, 30_720, generator=g)
    centers = ops.gather_points(points, ops.farthest_point_sample(points, 10_240))
    voxel_coords = ops.normalize_voxel_coords(points, 32)
    grid = ops.avg_voxelize(features, voxel_coords, 32)
    return [
        ("farthest_point_sample", "N=30720 M=10240", lambda: ops.farthest_point_sample(points, 10_240)),
        ("ball_query r=0.1", "N=30720 M=10240 K=128", lambda: ops.ball_query(centers, points, 0.1, 128)),
        ("three_nearest_neighbors", "N=30720 M=10240", lambda: ops.three_nearest_neighbors(points, centers)),
        ("avg_voxelize", "C=32 N=30720 R=32", lambda: ops.avg_voxelize(features, voxel_coords, 32)),
        ("trilinear_devoxelize", "C=32 N=30720 R=32", lambda: ops.trilinear_devoxelize(grid, voxel_coords)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--centers", type=int, default=256)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--neighbors", type=int, default=32)
    parser.add_argument("--skip-paper", action="store_true", help="omit the paper-size table")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU\n")
    print(f"{'op':<24} {'size':<22} {'loop ms':>10} {'ours ms':>9} {'speed-up':>9} agree")
    for case in moderate_cases(args.points, args.centers, args.channels, args.resolution, args.neighbors):
        t_ours, out_ours = best_time(case.ours, repeats=5)
        t_loop, out_loop = once(case.loop)
        print(
            f"{case.name:<24} {case.size:<22} {1e3 * t_loop:>10.1f} {1e3 * t_ours:>9.2f}"
            f" {t_loop / t_ours:>8.0f}x {'yes' if case.agree(out_ours, out_loop) else 'NO'}"
        )
    if args.skip_paper:
        return
    print(f"\n{'op (paper size)':<24} {'size':<22} {'ours ms':>9}")
    for name, size, fn in paper_cases():
        t_ours, _ = best_time(fn, repeats=1)
        print(f"{name:<24} {size:<22} {1e3 * t_ours:>9.0f}")


if __name__ == "__main__":
    main()
