"""Synthetic cranial shells with SkullBreak-style defects, written in the SkullBreak layout.

A skull is an ellipsoidal bone shell with a per-subject low-order shape variation, cut open at
the bottom along a wavy, tilted rim (the skull base). Each defect class removes a differently
placed and shaped region of bone; the implant is exactly the removed bone
(``complete & ~defective``). Shapes are defined in the ellipsoid's own coordinates
``q = (p - centre) / outer_semi_axes`` (``|q| = 1`` on the outer surface), so the same subject
looks the same at 64^3 and at 512^3. Voxels are evaluated slab by slab, which keeps memory
bounded at 512^3.

Axes follow the array: axis 0 left-right, axis 1 posterior-anterior, axis 2 inferior-superior.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from hounsfield.data.cases import (
    SKULLBREAK_DEFECT_CLASSES,
    SKULLFIX_DEFECT_CLASS,
    SkullCase,
    skullbreak_case_id,
)
from hounsfield.data.volume_io import write_mask_nrrd

logger = logging.getLogger(__name__)

# SkullBreak volumes are 512^3 at about 0.4 mm: keep that field of view at any grid size.
SKULLBREAK_FIELD_OF_VIEW_MM = 512 * 0.4
_SLAB = 16  # voxels along axis 0 evaluated at once

Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


class SkullShape(BaseModel):
    """Geometry of one synthetic subject; lengths are fractions of the shortest field-of-view side."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    centre: tuple[float, float, float]  # fraction of the field of view along each axis
    semi_axes: tuple[float, float, float]
    thickness: float
    modulation: tuple[float, float, float]  # amplitudes of the low-order radial variation
    base_level: float  # rim height in q_z at the centre
    base_tilt: float  # rim rises towards the front (q_y > 0), like the anterior cranial fossa
    rim_amplitude: float
    rim_frequency: tuple[float, float]
    rim_phase: tuple[float, float]


@dataclass(frozen=True)
class DefectRegion:
    """A defect as a union of (possibly wobbly) balls in q space, optionally a band over the vertex."""

    centres: Floats  # (k, 3)
    radii: Floats  # (k,)
    wobble: float = 0.0  # relative amplitude of the irregular boundary
    wobble_phase: tuple[float, float, float] = (0.0, 0.0, 0.0)
    band: tuple[float, float, float] | None = None  # (y centre, half width, lowest q_z)


@dataclass(frozen=True)
class SyntheticSubject:
    """One subject in memory: the complete skull and, per defect class, the defective skull."""

    subject_id: str
    spacing_mm: tuple[float, float, float]
    complete: Mask
    defective: dict[str, Mask]

    def implant(self, defect_class: str) -> Mask:
        return self.complete & ~self.defective[defect_class]


def sample_skull_shape(rng: np.random.Generator) -> SkullShape:
    """Draw a slightly varied adult-like cranium."""

    def jitter(value: float, rel: float) -> float:
        return float(value * (1.0 + rng.uniform(-rel, rel)))

    return SkullShape(
        centre=(jitter(0.5, 0.02), jitter(0.5, 0.02), jitter(0.44, 0.03)),
        semi_axes=(jitter(0.33, 0.05), jitter(0.40, 0.04), jitter(0.36, 0.05)),
        thickness=jitter(0.045, 0.1),
        modulation=(
            float(rng.uniform(-0.04, 0.04)),
            float(rng.uniform(-0.04, 0.04)),
            float(rng.uniform(0, 0.04)),
        ),
        base_level=float(rng.uniform(-0.38, -0.28)),
        base_tilt=float(rng.uniform(0.10, 0.20)),
        rim_amplitude=float(rng.uniform(0.04, 0.08)),
        rim_frequency=(float(rng.uniform(3.0, 5.0)), float(rng.uniform(2.0, 4.0))),
        rim_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
    )


def sample_defect(defect_class: str, rng: np.random.Generator) -> DefectRegion:
    """Draw the region removed by one SkullBreak-like defect class (q space of the outer shell)."""

    def on_shell(x: float, y: float, z: float) -> Floats:
        d = np.array([x, y, z], dtype=np.float64)
        return d / np.linalg.norm(d)

    if defect_class == "bilateral":
        # a band across the vertex from the left to the right side
        band = (
            float(rng.uniform(-0.15, 0.15)),
            float(rng.uniform(0.25, 0.35)),
            float(rng.uniform(0.25, 0.45)),
        )
        return DefectRegion(centres=np.zeros((0, 3)), radii=np.zeros(0), band=band)
    if defect_class == "frontoorbital":
        centre = on_shell(rng.uniform(-0.15, 0.15), 1.0, rng.uniform(0.15, 0.3))
        return DefectRegion(centres=centre[None], radii=np.array([rng.uniform(0.3, 0.38)]))
    if defect_class == "parietotemporal":
        side = 1.0 if rng.random() < 0.5 else -1.0
        centre = on_shell(side, rng.uniform(-0.3, 0.1), rng.uniform(0.15, 0.45))
        return DefectRegion(centres=centre[None], radii=np.array([rng.uniform(0.33, 0.42)]))
    if defect_class == "random_1":
        # one ball with an irregular, wavy boundary anywhere on the upper skull
        azimuth, height = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.8)
        centre = on_shell(np.cos(azimuth), np.sin(azimuth), height)
        return DefectRegion(
            centres=centre[None],
            radii=np.array([rng.uniform(0.26, 0.36)]),
            wobble=float(rng.uniform(0.25, 0.4)),
            wobble_phase=(float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3))),
        )
    if defect_class == "random_2":
        # two or three overlapping balls along a short arc: an elongated, lobed hole
        azimuth, height = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.6)
        step = rng.uniform(0.18, 0.3) * (1.0 if rng.random() < 0.5 else -1.0)
        count = int(rng.integers(2, 4))
        centres = np.stack(
            [on_shell(np.cos(azimuth + i * step), np.sin(azimuth + i * step), height) for i in range(count)]
        )
        return DefectRegion(centres=centres, radii=rng.uniform(0.16, 0.24, size=count))
    raise ValueError(f"unknown defect class {defect_class!r}; expected one of {SKULLBREAK_DEFECT_CLASSES}")


def synthesize_subject(
    subject_index: int,
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing_mm: float | tuple[float, float, float] | None = None,
    seed: int = 0,
    defect_classes: Sequence[str] = SKULLBREAK_DEFECT_CLASSES,
) -> SyntheticSubject:
    """Build one subject's masks in memory; the same (seed, index) gives the same skull at any size."""
    unknown = [c for c in defect_classes if c not in SKULLBREAK_DEFECT_CLASSES]
    if unknown:
        raise ValueError(f"unknown defect class(es) {unknown}; expected some of {SKULLBREAK_DEFECT_CLASSES}")
    spacing = _resolve_spacing(shape, spacing_mm)
    skull = sample_skull_shape(np.random.default_rng([seed, subject_index, 0]))
    complete = _evaluate(shape, spacing, skull, None)
    defective: dict[str, Mask] = {}
    for defect_class in defect_classes:
        class_seed = SKULLBREAK_DEFECT_CLASSES.index(defect_class) + 1
        region = sample_defect(defect_class, np.random.default_rng([seed, subject_index, class_seed]))
        removed = _evaluate(shape, spacing, skull, region)
        defective[defect_class] = complete & ~removed
    return SyntheticSubject(
        subject_id=f"{subject_index:03d}", spacing_mm=spacing, complete=complete, defective=defective
    )


def generate_skullbreak(
    root: Path,
    n_subjects: int,
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing_mm: float | tuple[float, float, float] | None = None,
    seed: int = 0,
    defect_classes: Sequence[str] = SKULLBREAK_DEFECT_CLASSES,
) -> list[SkullCase]:
    """Write ``n_subjects`` synthetic skulls in the SkullBreak layout and return their cases.

    ``spacing_mm`` defaults to SkullBreak's field of view (204.8 mm) divided by the grid size.
    """
    cases: list[SkullCase] = []
    for index in range(n_subjects):
        subject = synthesize_subject(index, shape, spacing_mm, seed, defect_classes)
        complete_path = root / "complete_skull" / f"{subject.subject_id}.nrrd"
        write_mask_nrrd(complete_path, subject.complete, subject.spacing_mm)
        for defect_class in defect_classes:
            defective_path = root / "defective_skull" / defect_class / f"{subject.subject_id}.nrrd"
            implant_path = root / "implant" / defect_class / f"{subject.subject_id}.nrrd"
            write_mask_nrrd(defective_path, subject.defective[defect_class], subject.spacing_mm)
            write_mask_nrrd(implant_path, subject.implant(defect_class), subject.spacing_mm)
            cases.append(
                SkullCase(
                    case_id=skullbreak_case_id(subject.subject_id, defect_class),
                    subject_id=subject.subject_id,
                    defect_class=defect_class,
                    complete_path=complete_path,
                    defective_path=defective_path,
                    implant_path=implant_path,
                )
            )
        logger.info("wrote synthetic subject %s (%s voxels)", subject.subject_id, shape)
    return cases


def generate_skullfix(
    root: Path,
    n_subjects: int,
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing_mm: float | tuple[float, float, float] | None = None,
    seed: int = 0,
) -> list[SkullCase]:
    """Write synthetic skulls in the SkullFix layout: one defect per skull, its class drawn per subject."""
    cases: list[SkullCase] = []
    for index in range(n_subjects):
        pick = np.random.default_rng([seed, index, 99]).integers(len(SKULLBREAK_DEFECT_CLASSES))
        defect_class = SKULLBREAK_DEFECT_CLASSES[int(pick)]
        subject = synthesize_subject(index, shape, spacing_mm, seed, (defect_class,))
        name = f"{subject.subject_id}.nrrd"
        paths = (root / "complete_skull" / name, root / "defective_skull" / name, root / "implant" / name)
        masks = (subject.complete, subject.defective[defect_class], subject.implant(defect_class))
        for path, mask in zip(paths, masks, strict=True):
            write_mask_nrrd(path, mask, subject.spacing_mm)
        cases.append(
            SkullCase(
                case_id=subject.subject_id,
                subject_id=subject.subject_id,
                defect_class=SKULLFIX_DEFECT_CLASS,
                complete_path=paths[0],
                defective_path=paths[1],
                implant_path=paths[2],
            )
        )
    return cases


def _resolve_spacing(
    shape: tuple[int, int, int], spacing_mm: float | tuple[float, float, float] | None
) -> tuple[float, float, float]:
    if spacing_mm is None:
        iso = SKULLBREAK_FIELD_OF_VIEW_MM / max(shape)
        return (iso, iso, iso)
    if isinstance(spacing_mm, int | float):
        return (float(spacing_mm), float(spacing_mm), float(spacing_mm))
    return (float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]))


def _evaluate(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    skull: SkullShape,
    region: DefectRegion | None,
) -> Mask:
    """The bone mask (``region is None``) or the bone inside ``region``, slab by slab."""
    out = np.zeros(shape, dtype=bool)
    for start in range(0, shape[0], _SLAB):
        stop = min(start + _SLAB, shape[0])
        q_outer, q_inner = _shell_coordinates(shape, spacing, skull, start, stop)
        bone = _bone(q_outer, q_inner, skull)
        if region is not None:
            bone &= _inside_region(q_outer, region)
        out[start:stop] = bone
    return out


def _shell_coordinates(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    skull: SkullShape,
    start: int,
    stop: int,
) -> tuple[Floats, Floats]:
    """q coordinates of a slab for the outer and for the inner (thinner) ellipsoid, shape (3, ...)."""
    fov = np.asarray(shape, dtype=np.float64) * np.asarray(spacing)
    unit = float(fov.min())
    centre = np.asarray(skull.centre) * fov
    outer = np.asarray(skull.semi_axes) * unit
    inner = outer - skull.thickness * unit
    axes = [np.arange(start, stop), np.arange(shape[1]), np.arange(shape[2])]
    grid = np.meshgrid(*[a * s for a, s in zip(axes, spacing, strict=True)], indexing="ij")
    offset = np.stack(grid) - centre[:, None, None, None]
    return offset / outer[:, None, None, None], offset / inner[:, None, None, None]


def _bone(q_outer: Floats, q_inner: Floats, skull: SkullShape) -> Mask:
    r_outer = np.sqrt(np.sum(q_outer**2, axis=0))
    r_inner = np.sqrt(np.sum(q_inner**2, axis=0))
    direction = q_outer / np.maximum(r_outer, 1e-9)
    dx, dy, dz = direction
    a, b, c = skull.modulation
    # Low-order radial variation: asymmetry, a sloped forehead, a higher/lower vertex.
    radius = 1.0 + a * dx * dy + b * dy * dz + c * (dz**2 - 1.0 / 3.0)
    shell = (r_outer <= radius) & (r_inner > radius)
    qx, qy, qz = q_outer
    rim = (
        skull.base_level
        + skull.base_tilt * qy
        + skull.rim_amplitude
        * np.sin(skull.rim_frequency[0] * qx + skull.rim_phase[0])
        * np.cos(skull.rim_frequency[1] * qy + skull.rim_phase[1])
    )
    return shell & (qz >= rim)


def _inside_region(q: Floats, region: DefectRegion) -> Mask:
    inside = np.zeros(q.shape[1:], dtype=bool)
    for centre, radius in zip(region.centres, region.radii, strict=True):
        delta = q - centre[:, None, None, None]
        distance = np.sqrt(np.sum(delta**2, axis=0))
        if region.wobble:
            px, py, pz = region.wobble_phase
            wave = np.sin(5.0 * q[0] + px) * np.sin(5.0 * q[1] + py) + 0.5 * np.sin(7.0 * q[2] + pz)
            inside |= distance < radius * (1.0 + region.wobble * wave)
        else:
            inside |= distance < radius
    if region.band is not None:
        y_centre, half_width, lowest = region.band
        inside |= (np.abs(q[1] - y_centre) < half_width) & (q[2] > lowest)
    return inside
