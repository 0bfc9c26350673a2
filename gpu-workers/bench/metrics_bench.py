"""Benchmark: cropped vs full-volume HD95 + bDSC + DSC on synthetic skull-implant cases.

Run: `gpu-workers/.venv/bin/python gpu-workers/bench/metrics_bench.py`. Each case is a skull-like
ellipsoidal shell with a defect cut out; the reference implant is the cut-out piece and the
prediction is a perturbed copy of it, so the implant fills a small part of the volume as in
SkullBreak. The program prints one row per volume size with the time per case of the cropped path,
of the full-volume path (`crop=False`), their ratio, and whether all values are identical. Times
are the mean over cases of the best of four runs (cropped) and of a single run (full volume).
"""

import argparse
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from hounsfield.evaluation import boundary_dice, dice, hd95

FIELD_OF_VIEW_MM = 230.0
SKULL_THICKNESS_MM = 7.0


@dataclass(frozen=True)
class ImplantCase:
    prediction: npt.NDArray[np.bool_]
    reference: npt.NDArray[np.bool_]
    defective_skull: npt.NDArray[np.bool_]
    spacing: tuple[float, float, float]


def make_case(size: int, seed: int) -> ImplantCase:
    """A shell with a spherical defect somewhere on its upper half; prediction = jittered implant."""
    rng = np.random.default_rng(seed)
    spacing_mm = FIELD_OF_VIEW_MM / size
    spacing = (spacing_mm, spacing_mm * 0.95, spacing_mm * 1.05)
    axes = [((np.arange(size, dtype=np.float32) - size / 2) * s) for s in spacing]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    radii = (80.0, 95.0, 75.0)
    radial = np.sqrt((z / radii[0]) ** 2 + (y / radii[1]) ** 2 + (x / radii[2]) ** 2)
    shell = np.abs(radial - 1.0) * 80.0 < SKULL_THICKNESS_MM / 2

    polar, azimuth = rng.uniform(0.2, 1.0), rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(polar), np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth)])
    centre = direction * np.array(radii)
    defect_radius = rng.uniform(25.0, 40.0)
    defect = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 < defect_radius**2
    reference = shell & defect
    defective_skull = shell & ~defect

    shift = tuple(int(s) for s in rng.integers(-1, 2, size=3))
    prediction = np.roll(reference, shift, axis=(0, 1, 2))
    boundary = prediction ^ ndimage.binary_erosion(prediction)
    prediction &= ~(boundary & (rng.uniform(size=prediction.shape) < 0.2))
    return ImplantCase(prediction, reference, defective_skull, spacing)


def score(case: ImplantCase, crop: bool) -> tuple[float, float, float]:
    return (
        dice(case.prediction, case.reference),
        hd95(case.prediction, case.reference, case.spacing, crop=crop),
        boundary_dice(case.prediction, case.reference, case.defective_skull, case.spacing, crop=crop),
    )


def timed(case: ImplantCase, crop: bool, repeats: int) -> tuple[float, tuple[float, float, float]]:
    """Best wall time of `repeats` runs and the values of the last one."""
    best, values = float("inf"), (0.0, 0.0, 0.0)
    for _ in range(repeats):
        start = time.perf_counter()
        values = score(case, crop)
        best = min(best, time.perf_counter() - start)
    return best, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--cases", type=int, default=3)
    args = parser.parse_args()

    print(
        f"{'size':>6} {'cases':>5} {'implant vox':>11} {'cropped ms':>11} {'full ms':>9}"
        f" {'speed-up':>9} identical"
    )
    for size in args.sizes:
        ours, full, implant_voxels, identical = [], [], [], True
        for seed in range(args.cases):
            case = make_case(size, seed)
            implant_voxels.append(int(case.reference.sum()))
            t_crop, v_crop = timed(case, crop=True, repeats=4)
            t_full, v_full = timed(case, crop=False, repeats=1)
            ours.append(t_crop)
            full.append(t_full)
            identical &= v_crop == v_full
        mean_ours, mean_full = float(np.mean(ours)), float(np.mean(full))
        print(
            f"{size:>4}^3 {args.cases:>5} {int(np.mean(implant_voxels)):>11} {1e3 * mean_ours:>11.1f}"
            f" {1e3 * mean_full:>9.1f} {mean_full / mean_ours:>8.1f}x {'yes' if identical else 'NO'}"
        )


if __name__ == "__main__":
    main()
