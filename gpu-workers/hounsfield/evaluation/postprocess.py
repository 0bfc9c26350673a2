"""Post-processing of a voxelised implant before it is scored or exported."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import ndimage
from scipy.spatial import cKDTree

from hounsfield.evaluation.bounding_box import Box, bounding_box
from hounsfield.evaluation.errors import EvaluationError, EvaluationErrorCode
from hounsfield.evaluation.inputs import BoolVolume, as_mask


class PostprocessStep(StrEnum):
    """The steps, in the order they run."""

    NEAR_POINTS = "near_points"
    OPENING = "opening"
    LARGEST_COMPONENT = "largest_component"
    MEDIAN = "median"
    CLOSING = "closing"
    FILL_HOLES = "fill_holes"


class PostprocessOptions(BaseModel):
    """Which steps run and how; every step can be switched off on its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    near_points: bool = True
    max_point_distance_vox: float = Field(default=2.0, ge=0.0)
    opening: bool = True
    opening_iterations: int = Field(default=1, ge=1)
    largest_component: bool = True
    median: bool = True
    median_size: int = Field(default=3, ge=1)
    closing: bool = True
    closing_iterations: int = Field(default=1, ge=1)
    fill_holes: bool = True
    structure_connectivity: Literal[1, 2, 3] = 1
    component_connectivity: Literal[1, 2, 3] = 3

    @field_validator("median_size")
    @classmethod
    def _median_size_is_odd(cls, size: int) -> int:
        if size % 2 == 0:
            raise ValueError("median_size must be odd so the filter is centred")
        return size


@dataclass(frozen=True)
class PostprocessResult:
    """The post-processed mask and what happened to it.

    `steps_applied` lists the steps whose effect is in `mask`; when a step emptied a non-empty mask,
    `fell_back` is True, `emptied_by` names that step, `mask` is the unfiltered input and
    `steps_applied` is empty.
    """

    mask: BoolVolume
    steps_applied: tuple[PostprocessStep, ...]
    fell_back: bool
    emptied_by: PostprocessStep | None = None


def postprocess_implant(
    mask: npt.ArrayLike,
    generated_points_vox: npt.ArrayLike | None = None,
    options: PostprocessOptions | None = None,
) -> PostprocessResult:
    """Clean a voxelised implant; fall back to the unfiltered mask if cleaning empties it.

    Steps, in order, each optional: keep voxels within `max_point_distance_vox` (Euclidean, voxel
    units) of the generated points (`(P, ndim)` voxel coordinates; skipped when none are given),
    binary opening, largest connected component, median filter, binary closing, hole filling.
    The volume is treated as embedded in unbounded background: unlike `scipy.ndimage.binary_closing`
    on the raw array, closing does not erode voxels on the volume border. The work runs on a crop
    around the mask, padded by as much as any step can grow it, which gives the same result as
    running it on the whole volume with that much background padding.
    """
    opts = options or PostprocessOptions()
    original = as_mask(mask)
    box = bounding_box(original)
    if box is None:
        return PostprocessResult(mask=original.copy(), steps_applied=(), fell_back=False)
    points = _as_points(generated_points_vox, original.ndim)
    growth = (opts.median_size // 2 if opts.median else 0) + (opts.closing_iterations if opts.closing else 0)
    work_box = box.expand((growth + 1,) * original.ndim)
    work = _padded_crop(original, work_box)
    structure = ndimage.generate_binary_structure(original.ndim, opts.structure_connectivity)
    applied: list[PostprocessStep] = []
    for step in PostprocessStep:
        if not _enabled(step, opts, points is not None):
            continue
        work = _apply(step, work, opts, structure, points, work_box)
        if not work.any():
            return PostprocessResult(mask=original.copy(), steps_applied=(), fell_back=True, emptied_by=step)
        applied.append(step)
    result = np.zeros_like(original)
    inside = work_box.clip(original.shape)
    result[inside.slices] = work[_relative_slices(inside, work_box)]
    return PostprocessResult(mask=result, steps_applied=tuple(applied), fell_back=False)


def _enabled(step: PostprocessStep, opts: PostprocessOptions, have_points: bool) -> bool:
    switches = {
        PostprocessStep.NEAR_POINTS: opts.near_points and have_points,
        PostprocessStep.OPENING: opts.opening,
        PostprocessStep.LARGEST_COMPONENT: opts.largest_component,
        PostprocessStep.MEDIAN: opts.median,
        PostprocessStep.CLOSING: opts.closing,
        PostprocessStep.FILL_HOLES: opts.fill_holes,
    }
    return switches[step]


def _apply(
    step: PostprocessStep,
    work: BoolVolume,
    opts: PostprocessOptions,
    structure: BoolVolume,
    points: npt.NDArray[np.float64] | None,
    work_box: Box,
) -> BoolVolume:
    match step:
        case PostprocessStep.NEAR_POINTS:
            if points is None:
                return work
            return _near_points(work, points, work_box, opts.max_point_distance_vox)
        case PostprocessStep.OPENING:
            return ndimage.binary_opening(work, structure=structure, iterations=opts.opening_iterations)
        case PostprocessStep.LARGEST_COMPONENT:
            return _largest_component(work, opts.component_connectivity)
        case PostprocessStep.MEDIAN:
            filtered = ndimage.median_filter(
                work.view(np.uint8), size=opts.median_size, mode="constant", cval=0
            )
            return np.asarray(filtered, dtype=np.bool_)
        case PostprocessStep.CLOSING:
            # The crop keeps `closing_iterations` + 1 background voxels around the mask, so the
            # dilation never reaches the crop edge and the erosion never sees scipy's border value.
            return ndimage.binary_closing(work, structure=structure, iterations=opts.closing_iterations)
        case PostprocessStep.FILL_HOLES:
            return np.asarray(ndimage.binary_fill_holes(work), dtype=np.bool_)


def _near_points(
    work: BoolVolume, points: npt.NDArray[np.float64], work_box: Box, max_distance: float
) -> BoolVolume:
    """Keep voxels whose centre is within `max_distance` of a generated point."""
    kept = np.zeros_like(work)
    if len(points) == 0:
        return kept
    voxels = np.argwhere(work)
    distances, _ = cKDTree(points).query(voxels + np.asarray(work_box.lo), k=1)
    near = voxels[distances <= max_distance]
    kept[tuple(near.T)] = True
    return kept


def _largest_component(work: BoolVolume, connectivity: int) -> BoolVolume:
    labels, count = ndimage.label(work, structure=ndimage.generate_binary_structure(work.ndim, connectivity))
    if count <= 1:
        return work
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(np.argmax(sizes)))


def _as_points(points: npt.ArrayLike | None, ndim: int) -> npt.NDArray[np.float64] | None:
    if points is None:
        return None
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, ndim))
    if array.ndim != 2 or array.shape[1] != ndim or not np.isfinite(array).all():
        raise EvaluationError(
            EvaluationErrorCode.INVALID_ARGUMENT, f"points must be finite (P, {ndim}), got {array.shape}"
        )
    return array


def _padded_crop(volume: BoolVolume, box: Box) -> BoolVolume:
    """`volume[box]` where the box may stick out of the volume; outside voxels are background."""
    crop = np.zeros(box.shape, dtype=np.bool_)
    inside = box.clip(volume.shape)
    crop[_relative_slices(inside, box)] = volume[inside.slices]
    return crop


def _relative_slices(inner: Box, outer: Box) -> tuple[slice, ...]:
    return tuple(
        slice(i_lo - o_lo, i_hi - o_lo) for i_lo, i_hi, o_lo in zip(inner.lo, inner.hi, outer.lo, strict=True)
    )
