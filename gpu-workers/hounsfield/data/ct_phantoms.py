"""Deterministic synthetic chest CT (CTPA-like) phantoms for CPU tests, benchmarks and demos.

A phantom is an int16 Hounsfield-unit volume in the canonical frame of ``hounsfield.data.volumes``
(axes x, y, z; z from feet to head) with: air outside (-1000 HU), an elliptic body outline with a
subcutaneous fat layer (-100 HU) around soft tissue (40 HU), two lungs (-850 HU), a contrast-filled
heart and pulmonary trunk (250 HU) whose arteries branch recursively into each lung (300 HU,
thinning at every generation), a spine with cortical shell (1,000 HU) around cancellous bone
(350 HU), ribs (700 HU), and Gaussian noise (σ = 20 HU by default). Sizes and positions vary with
the seed, so every (seed, patient, volume) gives a different but reproducible body.

The default shape 64×64×76 keeps the 512×512×604 aspect of CTPA volumes at a small scale; the field
of view is 360 mm in-plane and 362 mm along z whatever the shape, so the spacing follows the shape.
``write_phantom_dataset`` writes ``<root>/<patient>/<volume>.nii.gz`` (a patient/volume layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hounsfield.data.volumes.io import Spacing, write_nifti

DEFAULT_SHAPE = (64, 64, 76)
FIELD_OF_VIEW_MM = (360.0, 360.0, 362.0)

AIR, FAT, SOFT, LUNG, BLOOD, VESSEL, CANCELLOUS, CORTICAL, RIB = (
    -1000,
    -100,
    40,
    -850,
    250,
    300,
    350,
    1000,
    700,
)


@dataclass(frozen=True)
class PhantomVolume:
    """One phantom: ``hu`` (int16, canonical axes), its spacing in mm, and where it was written."""

    patient_id: str
    volume_id: str
    hu: npt.NDArray[np.int16]
    spacing: Spacing
    path: Path | None = None


def phantom_spacing(shape: tuple[int, int, int]) -> Spacing:
    """mm per voxel so that ``shape`` covers the fixed field of view."""
    return (FIELD_OF_VIEW_MM[0] / shape[0], FIELD_OF_VIEW_MM[1] / shape[1], FIELD_OF_VIEW_MM[2] / shape[2])


def ct_phantom(
    shape: tuple[int, int, int] = DEFAULT_SHAPE, seed: int = 0, noise_hu: float = 20.0
) -> npt.NDArray[np.int16]:
    """A chest CT phantom in HU (see the module docstring), the same for the same arguments."""
    if min(shape) < 8:
        raise ValueError(f"phantom shape must be at least 8 voxels per axis, got {shape}")
    rng = np.random.default_rng(seed)
    spacing = np.array(phantom_spacing(shape))
    axes = [
        (np.arange(n) + 0.5) * s - f / 2 for n, s, f in zip(shape, spacing, FIELD_OF_VIEW_MM, strict=True)
    ]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)  # mm from the centre of the field of view
    hu = np.full(shape, AIR, dtype=np.float32)

    body_a, body_b = 150 * rng.uniform(0.9, 1.05), 105 * rng.uniform(0.9, 1.05)
    body = (x / body_a) ** 2 + (y / body_b) ** 2
    hu[np.broadcast_to(body <= 1, shape)] = FAT
    hu[np.broadcast_to(body <= (1 - 12 / body_a) ** 2, shape)] = SOFT

    lung_z = (z > -150) & (z < 150 * rng.uniform(0.85, 1.0))
    for side in (-1, 1):
        cx, ry = side * 62 * rng.uniform(0.9, 1.1), 70 * rng.uniform(0.9, 1.05)
        lung = ((x - cx) / 48) ** 2 + ((y + 5) / ry) ** 2 + (z / 170) ** 2 <= 1
        hu[lung & lung_z] = LUNG
    heart = ((x - 10) / 45) ** 2 + ((y - 35) / 38) ** 2 + ((z + 40) / 55) ** 2 <= 1
    hu[heart] = BLOOD

    vessels = np.zeros(shape, dtype=bool)
    for side in (-1, 1):
        root = np.array([side * 20.0, 10.0, 0.0])
        _branch(vessels, axes, root, np.array([side * 1.0, -0.15, 0.3]), 45.0, 7.0, 4, rng)
    hu[vessels & (hu != AIR)] = VESSEL

    spine = (x / 22) ** 2 + ((y + 70) / 20) ** 2
    hu[np.broadcast_to(spine <= 1, shape)] = CORTICAL
    hu[np.broadcast_to(spine <= 0.6, shape)] = CANCELLOUS
    rib_shell = (body <= (1 - 16 / body_a) ** 2) & (body >= (1 - 24 / body_a) ** 2) & (y < 60)
    rib_levels = np.cos(2 * np.pi * z / 25 + rng.uniform(0, 2 * np.pi)) > 0.55
    hu[rib_shell & rib_levels & lung_z] = RIB

    hu += rng.normal(0.0, noise_hu, size=shape).astype(np.float32) * (hu > AIR + 1)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def _branch(
    out: npt.NDArray[np.bool_],
    axes: list[npt.NDArray[np.float64]],
    start: npt.NDArray[np.float64],
    direction: npt.NDArray[np.float64],
    length: float,
    radius: float,
    depth: int,
    rng: np.random.Generator,
) -> None:
    """Rasterise a vessel segment (a capsule) and recurse into two thinner, shorter children."""
    direction = direction / np.linalg.norm(direction)
    end = start + direction * length
    _capsule(out, axes, start, end, radius)
    if depth == 0:
        return
    for sign in (-1, 1):
        turn = rng.normal(0, 0.35, size=3)
        turn[2] += sign * 0.6
        _branch(out, axes, end, direction + turn, length * 0.75, max(radius * 0.7, 1.5), depth - 1, rng)


def _capsule(
    out: npt.NDArray[np.bool_],
    axes: list[npt.NDArray[np.float64]],
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    radius: float,
) -> None:
    """Set the voxels within ``radius`` mm of the segment a-b, looking only inside its bounding box."""
    lo, hi = np.minimum(a, b) - radius, np.maximum(a, b) + radius
    ranges = [np.nonzero((ax >= lo[i]) & (ax <= hi[i]))[0] for i, ax in enumerate(axes)]
    if any(r.size == 0 for r in ranges):
        return
    sub = np.meshgrid(*(axes[i][r] for i, r in enumerate(ranges)), indexing="ij")
    points = np.stack(sub, axis=-1) - a
    ab = b - a
    t = np.clip(points @ ab / float(ab @ ab), 0.0, 1.0)
    distance = np.linalg.norm(points - t[..., None] * ab, axis=-1)
    box = tuple(slice(r[0], r[-1] + 1) for r in ranges)
    out[box] |= distance <= radius


def write_phantom_dataset(
    root: Path,
    n_patients: int,
    *,
    volumes_per_patient: int = 1,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    seed: int = 0,
    noise_hu: float = 20.0,
) -> list[PhantomVolume]:
    """Write ``<root>/P###/ct_#.nii.gz`` phantoms (int16 HU, RAS+ affine) and return them."""
    written = []
    spacing = phantom_spacing(shape)
    for p in range(n_patients):
        for v in range(volumes_per_patient):
            patient, volume = f"P{p:03d}", f"ct_{v}"
            hu = ct_phantom(
                shape, seed=int(np.random.SeedSequence([seed, p, v]).generate_state(1)[0]), noise_hu=noise_hu
            )
            path = root / patient / f"{volume}.nii.gz"
            write_nifti(path, hu, spacing)
            written.append(PhantomVolume(patient, volume, hu, spacing, path))
    return written
