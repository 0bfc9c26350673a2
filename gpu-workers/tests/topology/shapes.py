"""Voxel shapes with known topology, drawn from implicit functions on a grid."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]


def grid(n: int) -> tuple[npt.NDArray[np.float64], ...]:
    axis = np.arange(n, dtype=np.float64) - (n - 1) / 2
    return tuple(np.meshgrid(axis, axis, axis, indexing="ij"))


def ball(n: int = 21, radius: float = 7.0) -> Mask:
    x, y, z = grid(n)
    return np.asarray(x**2 + y**2 + z**2 <= radius**2)


def hollow_sphere(n: int = 25, outer: float = 10.0, inner: float = 6.0) -> Mask:
    x, y, z = grid(n)
    r2 = x**2 + y**2 + z**2
    return np.asarray((r2 <= outer**2) & (r2 > inner**2))


def torus(
    n: int = 31,
    major: float = 9.0,
    minor: float = 3.0,
    center: tuple[float, float, float] = (0, 0, 0),
    axis: int = 2,
) -> Mask:
    """A solid torus around ``axis`` through ``center`` (grid coordinates relative to the middle)."""
    x, y, z = grid(n)
    coords = [x - center[0], y - center[1], z - center[2]]
    along = coords.pop(axis)
    a, b = coords
    return np.asarray((np.sqrt(a**2 + b**2) - major) ** 2 + along**2 <= minor**2)


def linked_rings(n: int = 41) -> Mask:
    """Two solid tori through each other's holes (a Hopf link): 2 components, 2 tunnels, no cavity."""
    first = torus(n, major=8.0, minor=2.2, center=(0, 0, 0), axis=2)
    second = torus(n, major=8.0, minor=2.2, center=(8.0, 0, 0), axis=1)
    return first | second
