"""Evaluation metrics for generated volumes, point clouds and VQ codebooks.

Masks are boolean volumes (anything non-zero is foreground) with a per-axis voxel spacing in mm.
No metric raises on empty or degenerate masks; these are the conventions (tested one by one):

| metric             | case                                         | value                             |
|--------------------|----------------------------------------------|-----------------------------------|
| `dice`             | both masks empty                             | 1.0                               |
| `dice`             | exactly one mask empty                       | 0.0                               |
| `boundary_dice`    | no voxel of either mask inside the band      | 1.0 (nothing to disagree on)      |
| `boundary_dice`    | defective skull empty (so the band is empty) | 1.0                               |
| `boundary_dice`    | only one mask has voxels inside the band     | 0.0                               |
| `hd95`             | both masks empty                             | 0.0                               |
| `hd95`             | exactly one mask empty                       | volume diagonal in mm (see below) |
| `hd95`             | single voxel vs single voxel                 | their distance in mm              |
| `surface_chamfer`  | both masks empty                             | 0.0                               |
| `surface_chamfer`  | exactly one mask empty                       | volume diagonal in mm             |
| `chamfer_distance` | both point sets empty                        | 0.0                               |
| `chamfer_distance` | exactly one point set empty                  | +inf                              |
| `psnr`             | identical volumes (MSE = 0)                  | +inf                              |
| `ssim3d`           | identical volumes (constant ones too)        | 1.0                               |
| `ssim3d`           | a side shorter than the Gaussian window      | raises `VOLUME_TOO_SMALL`         |
| `codebook_*`       | no indices                                   | perplexity 0.0, usage 0.0         |

The volume diagonal, `sqrt(sum(((n_i - 1) * spacing_i) ** 2))`, is the largest distance two voxel
centres of the volume can have, so no non-empty prediction can score a worse HD95 (or surface
Chamfer distance); it is used
instead of +inf because results travel as JSON and averages over cases must stay finite.

Shape mismatches, bad spacings and out-of-range arguments raise `EvaluationError` with a code.
"""

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from hounsfield.evaluation.bounding_box import bounding_box, joint_bounding_box
from hounsfield.evaluation.codebook import codebook_perplexity, codebook_usage
from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.evaluation.inputs import (
    BoolVolume,
    Spacing,
    as_same_shape_masks,
    as_spacing,
    volume_diagonal_mm,
)
from hounsfield.evaluation.point_cloud import chamfer_distance
from hounsfield.evaluation.surface import directed_surface_distances, surface, symmetric_surface_distances

__all__ = [
    "boundary_dice",
    "chamfer_distance",
    "codebook_perplexity",
    "codebook_usage",
    "dice",
    "hd95",
    "psnr",
    "ssim3d",
    "surface_chamfer",
]


def dice(pred: npt.ArrayLike, ref: npt.ArrayLike) -> float:
    """Dice similarity coefficient `2|P ∩ R| / (|P| + |R|)`; 1.0 when both masks are empty."""
    p, r = as_same_shape_masks(pred, ref)
    return _dice_of(p, r)


def boundary_dice(
    pred: npt.ArrayLike,
    ref: npt.ArrayLike,
    defective_skull: npt.ArrayLike,
    spacing: float | Sequence[float],
    band_mm: float = 10.0,
    *,
    crop: bool = True,
) -> float:
    """Boundary Dice (bDSC): Dice of `pred ∩ band` and `ref ∩ band`.

    The band is every voxel whose Euclidean distance in mm (voxel offsets scaled by `spacing`) to
    the nearest voxel of `defective_skull` is at most `band_mm`; skull voxels are at distance 0.

    Crop (`crop=True`, exact): only band membership of voxels in `P ∪ R` matters. A skull voxel
    within `band_mm` of a voxel v is at most `band_mm / spacing_i` voxels away along axis i, so it
    lies inside the bounding box of `P ∪ R` grown by `ceil(band_mm / spacing_i) + 1` voxels (the +1
    absorbs rounding of the quotient). Inside that box the distance transform of the cropped skull
    equals the full one wherever the full distance is `<= band_mm` (the nearest skull voxel is in
    the box), and stays `> band_mm` elsewhere (dropping skull voxels only increases distances), so
    the band restricted to `P ∪ R` and hence the score are identical. The skull itself need not be
    in the box: it usually spans the whole volume, and its far voxels cannot change the band.
    `crop=False` computes the distance transform on the full volume (the reference path).
    """
    p, r, skull = as_same_shape_masks(pred, ref, defective_skull)
    voxel_mm = as_spacing(spacing, p.ndim)
    if not (math.isfinite(band_mm) and band_mm >= 0):
        raise EvaluationError(EvaluationErrorCode.INVALID_ARGUMENT, f"band_mm must be >= 0, got {band_mm}")
    box = joint_bounding_box(p, r)
    if box is None:
        return 1.0
    if crop:
        margin = tuple(math.ceil(band_mm / s) + 1 for s in voxel_mm)
        region = box.expand(margin).clip(p.shape).slices
        p, r, skull = p[region], r[region], skull[region]
    band = _within_distance_of(skull, voxel_mm, band_mm)
    return _dice_of(p & band, r & band)


def hd95(
    pred: npt.ArrayLike, ref: npt.ArrayLike, spacing: float | Sequence[float], *, crop: bool = True
) -> float:
    """95th-percentile symmetric Hausdorff distance in mm, as MedPy's `binary.hd95` defines it.

    Surface of a mask: `mask XOR erosion(mask)` with the 6-connected cross, voxels beyond the
    volume counting as background. For every surface voxel of P the distance to the nearest surface
    voxel of R (exact Euclidean distance transform with `sampling=spacing`), and the same from R to
    P; HD95 is `numpy.percentile` (linear interpolation) at 95 of the pooled distances.

    Crop (`crop=True`, exact): work on the bounding box of `P ∪ R` grown by one voxel and clipped
    to the volume. Erosion: a voxel's 6-neighbours that fall outside the crop are outside the
    bounding box, hence background in the full volume too, or outside the volume, which both paths
    treat as background (`border_value=0`); so both surfaces are identical. Distances: every surface
    voxel of either mask is inside the crop, so the nearest one from any voxel is inside it, and
    scipy's feature transform uses only integer coordinate differences, so translating the grid
    does not change the chosen voxel or the float distance. `crop=False` is the full-volume path.
    """
    pair = _surface_pair(pred, ref, spacing, crop=crop)
    if isinstance(pair, float):
        return pair
    p, r, voxel_mm = pair
    return float(np.percentile(symmetric_surface_distances(p, r, voxel_mm), 95))


def _surface_pair(
    pred: npt.ArrayLike, ref: npt.ArrayLike, spacing: float | Sequence[float], *, crop: bool
) -> float | tuple[BoolVolume, BoolVolume, Spacing]:
    """Both masks (cropped to their joint bounding box grown by one voxel) with the spacing, or the
    distance the conventions give when a mask is empty: 0 for both, the volume diagonal for one."""
    p, r = as_same_shape_masks(pred, ref)
    voxel_mm = as_spacing(spacing, p.ndim)
    box_p, box_r = bounding_box(p), bounding_box(r)
    if box_p is None and box_r is None:
        return 0.0
    if box_p is None or box_r is None:
        return volume_diagonal_mm(p.shape, voxel_mm)
    if crop:
        region = box_p.union(box_r).expand((1,) * p.ndim).clip(p.shape).slices
        p, r = p[region], r[region]
    return p, r, voxel_mm


def surface_chamfer(pred: npt.ArrayLike, ref: npt.ArrayLike, spacing: float | Sequence[float]) -> float:
    """Chamfer distance in mm between the surfaces of two masks (the implant report's `CD`).

    The surfaces are HD95's (6-connected, voxel centres scaled by `spacing`); the value is
    `chamfer_distance` of the two surface point sets — mean nearest distance from P's surface to
    R's plus the reverse, unsquared — computed with distance transforms on the joint bounding box
    instead of point lists, which gives the same numbers.
    """
    pair = _surface_pair(pred, ref, spacing, crop=True)
    if isinstance(pair, float):
        return pair
    p, r, voxel_mm = pair
    surface_p, surface_r = surface(p), surface(r)
    forward = directed_surface_distances(surface_p, surface_r, voxel_mm)
    backward = directed_surface_distances(surface_r, surface_p, voxel_mm)
    return float(forward.mean() + backward.mean())


def _dice_of(p: BoolVolume, r: BoolVolume) -> float:
    total = np.count_nonzero(p) + np.count_nonzero(r)
    if total == 0:
        return 1.0
    return float(2.0 * np.count_nonzero(p & r) / float(total))


def _within_distance_of(mask: BoolVolume, spacing: Spacing, distance_mm: float) -> BoolVolume:
    """Voxels at most `distance_mm` from the nearest voxel of `mask` (none if `mask` is empty)."""
    if not mask.any():
        return np.zeros_like(mask)
    return np.asarray(ndimage.distance_transform_edt(~mask, sampling=spacing) <= distance_mm)
