"""Reading volumes lazily and writing masks with the input's geometry (TIFF stacks, NIfTI, NRRD).

This is the recipe's own thin seam until the shared volume readers of issue #13
(``hounsfield.data.volumes``) land; ``open_volume`` / ``write_mask_like`` are the only two entry
points the recipe uses, so switching is local.

* TIFF stacks (``.tif``/``.tiff``, one page per slice, axis 0 = page): memory-mapped when the file
  is uncompressed and contiguous (what ``tifffile.imwrite`` writes), otherwise read page by page
  for the requested slices — a patch never decodes the whole stack.
* NIfTI (``.nii``/``.nii.gz``): nibabel's array proxy (lazy for uncompressed files).
* NRRD (``.nrrd``): read whole (pynrrd has no partial reads); volumes of this format are small.

Arrays keep the file's axis order; image and labels of a case must have the same shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode

Format = Literal["tiff", "nifti", "nrrd"]
SUFFIXES: dict[str, Format] = {
    ".tif": "tiff",
    ".tiff": "tiff",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".nrrd": "nrrd",
}


class LazyVolume(Protocol):
    """What the patch sampler needs: a shape, a dtype and basic slicing that returns an ndarray."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any) -> Any: ...


@dataclass(frozen=True)
class Geometry:
    """Where the volume sits in space, kept so a predicted mask can be written beside it."""

    format: Format
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    affine: npt.NDArray[np.float64] | None = None
    header: dict[str, Any] = field(default_factory=dict)


def volume_format(path: Path) -> Format:
    name = path.name.lower()
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise DataError(
        DataErrorCode.UNSUPPORTED_FORMAT,
        f"{path}: unsupported volume format; use one of {', '.join(SUFFIXES)}",
    )


class TiffPages:
    """A TIFF stack read page by page: ``stack[z0:z1, y0:y1, x0:x1]`` decodes pages z0..z1 only.

    The file is opened once per process (DataLoader workers each open their own handle).
    """

    def __init__(self, path: Path) -> None:
        import tifffile

        self.path = path
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            self._shape = tuple(int(n) for n in series.shape)
            self._dtype = np.dtype(series.dtype)
        self._handle: Any = None
        self._pid = -1

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    def __getitem__(self, key: Any) -> Any:
        import tifffile

        if self._pid != os.getpid():
            self._handle, self._pid = tifffile.TiffFile(self.path), os.getpid()
        key = key if isinstance(key, tuple) else (key,)
        z = key[0] if key else slice(None)
        if not isinstance(z, slice):
            z = slice(int(z), int(z) + 1)
        pages = range(*z.indices(self._shape[0]))
        block = self._handle.asarray(key=list(pages)) if len(pages) else np.empty((0, *self._shape[1:]))
        block = block.reshape(len(pages), *self._shape[1:])
        rest = key[1:]
        return block[(slice(None), *rest)] if rest else block


def _read_tiff(path: Path) -> tuple[LazyVolume, Geometry]:
    import tifffile

    try:
        array: LazyVolume = tifffile.memmap(path, mode="r")
    except ValueError:  # compressed or not contiguous: fall back to page access
        array = TiffPages(path)
    return array, Geometry(format="tiff", shape=_three_d(path, array.shape))


def _read_nifti(path: Path) -> tuple[LazyVolume, Geometry]:
    import nibabel as nib

    image: Any = nib.load(path)
    spacing = tuple(float(s) for s in image.header.get_zooms()[:3])
    geometry = Geometry(
        format="nifti",
        shape=_three_d(path, image.shape),
        spacing=(spacing[0], spacing[1], spacing[2]),
        affine=np.asarray(image.affine, dtype=np.float64),
        header={"nifti": image.header.copy()},
    )
    return image.dataobj, geometry


def _read_nrrd(path: Path) -> tuple[LazyVolume, Geometry]:
    import nrrd

    data, header = nrrd.read(str(path))
    directions = header.get("space directions")
    spacing = (1.0, 1.0, 1.0)
    if directions is not None:
        norms = [float(np.linalg.norm(np.asarray(d, dtype=np.float64))) for d in directions]
        if len(norms) == 3 and all(n > 0 for n in norms):
            spacing = (norms[0], norms[1], norms[2])
    return data, Geometry(
        format="nrrd", shape=_three_d(path, data.shape), spacing=spacing, header=dict(header)
    )


def _three_d(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise DataError(DataErrorCode.NOT_3D, f"{path}: expected a 3-D volume, got shape {tuple(shape)}")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def open_volume(path: Path) -> tuple[LazyVolume, Geometry]:
    """The volume at ``path`` as a lazily sliced array, and its geometry."""
    if not path.exists():
        raise DataError(DataErrorCode.MISSING_FILE, f"{path} does not exist")
    fmt = volume_format(path)
    try:
        if fmt == "tiff":
            return _read_tiff(path)
        if fmt == "nifti":
            return _read_nifti(path)
        return _read_nrrd(path)
    except DataError:
        raise
    except Exception as error:
        raise DataError(DataErrorCode.UNREADABLE, f"{path}: {error}") from error


def write_mask_like(path: Path, mask: npt.NDArray[np.uint8], geometry: Geometry) -> Path:
    """Write ``mask`` (same shape as the input) in the input's format with its geometry."""
    if mask.shape != geometry.shape:
        raise DataError(
            DataErrorCode.SHAPE_MISMATCH, f"mask {mask.shape} does not match the input's {geometry.shape}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if geometry.format == "tiff":
        import tifffile

        tifffile.imwrite(path, mask)
    elif geometry.format == "nifti":
        import nibabel as nib

        header = geometry.header.get("nifti")
        image = nib.Nifti1Image(mask, geometry.affine, header=header)
        image.set_data_dtype(np.uint8)
        nib.save(image, path)
    else:
        import nrrd

        keep = ("space", "space directions", "space origin", "kinds", "space units")
        nrrd.write(str(path), mask, {k: v for k, v in geometry.header.items() if k in keep})
    return path
