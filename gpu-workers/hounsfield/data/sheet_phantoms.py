"""Synthetic thin-sheet phantoms with known topology, for CPU tests and the topo_unet benchmarks.

A phantom is a noisy volume with one or two curved sheets (height fields along axis 0, 2 voxels
thick) standing in for papyrus layers, in one of three arrangements:

* ``curved``: one wavy sheet;
* ``touching``: two parallel wavy sheets 3 voxels apart, fused in one small disc (pressed layers);
* ``crossing``: an upright wall through the sheet, oblique in plan, meeting it along one arc.

Sheets are bounded discs (elliptic supports inside a margin), optionally with round holes punched
away from the contacts. Each sheet is contractible and the contacts are small connected patches,
so the expected Betti numbers follow from the construction: ``b0`` = number of separate sheet
groups (1 here: touching and crossing sheets are one component), ``b1`` = number of holes,
``b2 = 0``. Tests check the labels against ``evaluation.topology.betti_numbers``.

Labels: 0 background, 1 sheet, 2 unlabelled (a corner block away from the sheets, as annotators
leave regions out). The image is a blurred sheet indicator plus a slow intensity drift and
Gaussian noise, so a threshold alone does not segment it cleanly. Everything is drawn from
``numpy.random.default_rng(seed)``: the same seed gives the same phantom bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage

Arrangement = Literal["curved", "touching", "crossing"]
ARRANGEMENTS: tuple[Arrangement, ...] = ("curved", "touching", "crossing")

THICKNESS = 2


@dataclass(frozen=True)
class SheetPhantom:
    image: npt.NDArray[np.float32]
    labels: npt.NDArray[np.uint8]
    arrangement: Arrangement
    betti: tuple[int, int, int]


def _wave(rng: np.random.Generator, shape: tuple[int, int], amplitude: float) -> npt.NDArray[np.float64]:
    H, W = shape
    y, x = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    fy, fx = rng.uniform(0.5, 1.2, size=2) * 2 * np.pi / np.array([H, W])
    py, px = rng.uniform(0, 2 * np.pi, size=2)
    return amplitude * np.sin(fy * y + py) * np.cos(fx * x + px)


def _columns(z: npt.NDArray[np.int64], bottom: npt.NDArray[np.int64], height: int) -> npt.NDArray[np.bool_]:
    """Voxels ``bottom <= z < bottom + height`` of every (y, x) column."""
    return (z >= bottom[None]) & (z < bottom[None] + height)


def sheet_phantom(
    seed: int,
    shape: tuple[int, int, int] = (32, 48, 48),
    arrangement: Arrangement | None = None,
    holes: int | None = None,
    noise: float = 0.35,
) -> SheetPhantom:
    """One phantom (see the module docstring); ``arrangement``/``holes`` are drawn when None.

    Sheets are built column by column on integer heights (a sheet is ``THICKNESS`` voxels of every
    (y, x) column of its support, neighbouring columns at most one voxel apart), so the voxel set
    has exactly the topology of the continuous construction: no pinholes, no stray contacts.
    """
    if shape[0] < 24 or min(shape[1:]) < 40:
        raise ValueError(f"phantom shape {shape}: need depth >= 24 and height, width >= 40 voxels")
    rng = np.random.default_rng(seed)
    drawn_kind = ARRANGEMENTS[int(rng.integers(len(ARRANGEMENTS)))]
    drawn_holes = int(rng.integers(0, 2))
    kind: Arrangement = arrangement or drawn_kind
    n_holes = drawn_holes if holes is None else holes
    if n_holes not in (0, 1):
        raise ValueError(f"holes={n_holes}: a phantom has 0 or 1 hole")
    D, H, W = shape
    z = np.arange(D, dtype=np.int64)[:, None, None]
    y, x = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    margin = max(3.0, 0.1 * min(H, W))
    cy, cx = (H - 1) / 2, (W - 1) / 2
    support = ((y - cy) / (H / 2 - margin)) ** 2 + ((x - cx) / (W / 2 - margin)) ** 2 <= 1.0
    gap = 3
    base = np.floor(D / 2 - (THICKNESS + gap) / 2 + _wave(rng, (H, W), amplitude=D / 12)).astype(np.int64)
    first = _columns(z, base, THICKNESS) & support
    sheets = first.copy()
    contact = (cy + rng.uniform(-0.05, 0.05) * H, cx + rng.uniform(-0.05, 0.05) * W)
    side = 1.0 if rng.random() < 0.5 else -1.0  # the hole goes to this side of the contact
    if kind == "touching":
        # A parallel sheet `gap` voxels above, fused to the first by a solid pillar in one disc.
        sheets |= _columns(z, base + THICKNESS + gap, THICKNESS) & support
        pillar = (y - contact[0]) ** 2 + (x - contact[1]) ** 2 <= (0.08 * min(H, W)) ** 2
        sheets |= _columns(z, base, 2 * THICKNESS + gap) & pillar
    elif kind == "crossing":
        # An upright wall through the first sheet, oblique in plan: x = x0 + tilt·(y − cy), two
        # voxels of x per row (steps of at most one voxel: no pinholes), every z from 2 to D − 3.
        # Its rows stop 3 voxels inside the first sheet's rim, so its halves above and below the
        # sheet never touch around the rim (that would add a tunnel); the sheet cuts it along one arc
        # and the four wedges between them open out.
        tilt = rng.uniform(-0.5, 0.5)
        x0 = contact[1] - side * 0.08 * W
        rows = np.arange(H, dtype=np.float64)
        start = np.floor(x0 + tilt * (rows - cy)).astype(np.int64)
        semi_y, semi_x = H / 2 - margin - 3, W / 2 - margin - 3
        inside_rim = ((rows - cy) / semi_y) ** 2 + ((start + 1.0 - cx) / semi_x) ** 2 <= 1.0
        xi = np.arange(W, dtype=np.int64)[None, :]
        wall = (xi >= start[:, None]) & (xi < start[:, None] + THICKNESS) & inside_rim[:, None]
        depth = (z >= 2) & (z <= D - 3)
        sheets |= wall[None] & depth
    if n_holes:
        # Away from the pillar / crossing line (the second sheet is >= 3 voxels off there).
        hx = cx + side * 0.27 * W
        radius = 0.06 * min(H, W) + 1.5
        hole = (y - cy) ** 2 + (x - hx) ** 2 <= radius**2
        sheets &= ~(first & hole[None])
    labels = sheets.astype(np.uint8)
    corner = (slice(None), slice(0, int(margin) - 1), slice(0, W // 3))
    labels[corner] = np.where(sheets[corner], 1, 2)  # unlabelled block; sheets never reach it
    blurred = ndimage.gaussian_filter(sheets.astype(np.float32), sigma=0.8)
    drift = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=min(shape) / 4)
    drift = drift / (np.abs(drift).max() + 1e-9)
    image = 0.25 + 0.9 * blurred + 0.15 * drift + noise * rng.standard_normal(shape)
    return SheetPhantom(
        image=image.astype(np.float32), labels=labels, arrangement=kind, betti=(1, n_holes, 0)
    )


def write_phantom_cases(root: Path, count: int, shape: tuple[int, int, int], seed: int = 0) -> list[str]:
    """``count`` phantoms as TIFF stacks under ``root/images`` and ``root/labels`` (the topo_unet layout).

    Case ``i`` is ``sheet_phantom(seed + i)``; existing files are kept, so re-running is cheap.
    """
    import tifffile

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        case_id = f"phantom_{seed + i:04d}"
        image_path, label_path = root / "images" / f"{case_id}.tif", root / "labels" / f"{case_id}.tif"
        if not (image_path.exists() and label_path.exists()):
            phantom = sheet_phantom(seed + i, shape)
            tifffile.imwrite(image_path, phantom.image)
            tifffile.imwrite(label_path, phantom.labels)
        ids.append(case_id)
    return ids
