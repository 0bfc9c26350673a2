"""Axis-aligned voxel boxes: where the masks are, so distance transforms can run on a crop."""

from dataclasses import dataclass

import numpy as np

from hounsfield.evaluation.inputs import BoolVolume


@dataclass(frozen=True)
class Box:
    """Half-open voxel box `[lo, hi)` per axis; `lo`/`hi` may lie outside a volume until clipped."""

    lo: tuple[int, ...]
    hi: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(stop - start for start, stop in zip(self.lo, self.hi, strict=True))

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(start, stop) for start, stop in zip(self.lo, self.hi, strict=True))

    def expand(self, margin: tuple[int, ...]) -> "Box":
        """The box grown by `margin[i]` voxels on both sides of axis `i`."""
        return Box(
            lo=tuple(start - m for start, m in zip(self.lo, margin, strict=True)),
            hi=tuple(stop + m for stop, m in zip(self.hi, margin, strict=True)),
        )

    def clip(self, shape: tuple[int, ...]) -> "Box":
        """The part of the box inside a volume of `shape`."""
        return Box(
            lo=tuple(max(start, 0) for start in self.lo),
            hi=tuple(min(stop, n) for stop, n in zip(self.hi, shape, strict=True)),
        )

    def union(self, other: "Box") -> "Box":
        """Smallest box containing both."""
        return Box(
            lo=tuple(min(a, b) for a, b in zip(self.lo, other.lo, strict=True)),
            hi=tuple(max(a, b) for a, b in zip(self.hi, other.hi, strict=True)),
        )


def bounding_box(mask: BoolVolume) -> Box | None:
    """Tightest box around the foreground of `mask`, or None when it is empty.

    Each axis is searched inside the slab already found for the previous axes, so a small object in
    a large volume costs one full pass instead of one per axis.
    """
    view = mask
    lo: list[int] = []
    hi: list[int] = []
    for axis in range(mask.ndim):
        other_axes = tuple(a for a in range(mask.ndim) if a != axis)
        occupied = np.flatnonzero(view.any(axis=other_axes))
        if occupied.size == 0:
            return None
        start, stop = int(occupied[0]), int(occupied[-1]) + 1
        lo.append(start)
        hi.append(stop)
        view = view[(slice(None),) * axis + (slice(start, stop),)]
    return Box(lo=tuple(lo), hi=tuple(hi))


def joint_bounding_box(*masks: BoolVolume) -> Box | None:
    """Tightest box around the union of the masks' foregrounds, or None when all are empty."""
    boxes = [box for box in (bounding_box(mask) for mask in masks) if box is not None]
    if not boxes:
        return None
    joint = boxes[0]
    for box in boxes[1:]:
        joint = joint.union(box)
    return joint
