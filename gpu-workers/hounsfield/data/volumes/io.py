"""Readers for intensity volumes: NIfTI, NRRD, TIFF stacks (lazy) and DICOM series.

Every reader returns an :class:`ImageVolume` in the one canonical frame of this package
(see ``hounsfield.data.volumes``): array axes ``(x, y, z)`` reoriented to the closest RAS+
orientation, ``spacing`` in mm per array axis and ``affine`` mapping a voxel index to RAS+ mm.
Each format is converted by building its index -> RAS+ affine and reorienting with nibabel's
orientation tools, so there is one reorientation code path for all formats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode

Spacing = tuple[float, float, float]
NIFTI_SUFFIXES = (".nii", ".nii.gz")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
TIFF_SUFFIXES = (".tif", ".tiff")
#: Sign that turns each anatomical direction letter into RAS+ (L->R and P->A flip).
_TO_RAS = {"r": 1.0, "l": -1.0, "a": 1.0, "p": -1.0, "s": 1.0, "i": -1.0}


class LazyTiffStack:
    """A TIFF stack that reads only the pages a slice needs.

    Pages (or files, in name order) are the z axis; inside a page, columns are x and rows are y,
    so ``stack[x, y, z]`` follows the canonical axis order. ``np.asarray(stack)`` reads everything.
    """

    def __init__(self, pages: Sequence[tuple[Path, int]], page_shape: tuple[int, int], dtype: np.dtype[Any]):
        self._pages = list(pages)
        self._rows, self._cols = page_shape
        self.dtype = dtype
        self.pages_read = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self._cols, self._rows, len(self._pages))

    @property
    def ndim(self) -> int:
        return 3

    def __getitem__(self, key: tuple[slice, slice, slice]) -> npt.NDArray[Any]:
        if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, slice) for k in key)):
            raise TypeError("LazyTiffStack supports only [x0:x1, y0:y1, z0:z1] slicing")
        xs, ys, zs = key
        import tifffile

        planes = []
        for index in range(*zs.indices(len(self._pages))):
            path, page = self._pages[index]
            plane = tifffile.imread(path, key=page)
            self.pages_read += 1
            planes.append(np.asarray(plane).T[xs, ys])
        if not planes:
            return np.zeros((0, 0, 0), dtype=self.dtype)
        return np.stack(planes, axis=-1)

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        full = self[:, :, :]
        return full if dtype is None else full.astype(dtype)


@dataclass(frozen=True)
class ImageVolume:
    """An intensity volume in the canonical frame (axes x, y, z; closest RAS+; mm)."""

    data: npt.NDArray[Any] | LazyTiffStack
    spacing: Spacing
    affine: npt.NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.data.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    def array(self, dtype: type = np.float32) -> npt.NDArray[Any]:
        """The whole volume in memory as ``dtype`` (reads a lazy stack completely)."""
        return np.asarray(self.data, dtype=dtype)


def volume_suffix(path: Path) -> str | None:
    """The recognised suffix of a volume file or ``None`` (a directory is a DICOM or TIFF series)."""
    name = path.name.lower()
    for suffix in (*NIFTI_SUFFIXES, *NRRD_SUFFIXES, *TIFF_SUFFIXES):
        if name.endswith(suffix):
            return suffix
    return None


def read_image(path: Path, *, tiff_spacing: Spacing | None = None) -> ImageVolume:
    """Read a NIfTI/NRRD file, a multi-page TIFF, or a directory (DICOM series or TIFF slices).

    TIFF files carry no physical spacing, so ``tiff_spacing`` is required for them. Any problem is a
    ``DataError`` naming the file.
    """
    if not path.exists():
        raise DataError(DataErrorCode.MISSING_FILE, f"{path} does not exist")
    suffix = volume_suffix(path)
    if path.is_dir():
        tiffs = sorted(p for p in path.iterdir() if volume_suffix(p) in TIFF_SUFFIXES)
        volume = _read_tiff(tiffs, tiff_spacing, path) if tiffs else _read_dicom(path)
    elif suffix in NIFTI_SUFFIXES:
        volume = _read_nifti(path)
    elif suffix in NRRD_SUFFIXES:
        volume = _read_nrrd(path)
    elif suffix in TIFF_SUFFIXES:
        volume = _read_tiff([path], tiff_spacing, path)
    else:
        raise DataError(
            DataErrorCode.UNSUPPORTED_FORMAT,
            f"{path}: expected .nii/.nii.gz, .nrrd/.nhdr, .tif/.tiff or a DICOM/TIFF directory",
        )
    if len(volume.shape) != 3 or volume.data.ndim != 3:
        raise DataError(DataErrorCode.NOT_3D, f"{path}: expected 3 dimensions, got {volume.data.shape}")
    return volume


def canonical(data: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> ImageVolume:
    """Reorient ``data`` (any axis order) with its index -> RAS+ ``affine`` to the canonical frame."""
    from nibabel import orientations

    ornt = orientations.io_orientation(affine)
    out = orientations.apply_orientation(data, ornt)
    new_affine = affine @ orientations.inv_ornt_aff(ornt, data.shape)
    return ImageVolume(data=np.ascontiguousarray(out), spacing=_spacing(new_affine), affine=new_affine)


def write_nifti(
    path: Path, data: npt.NDArray[Any], spacing: Spacing, *, origin: Sequence[float] = (0, 0, 0)
) -> None:
    """Write a canonical ``(x, y, z)`` array as NIfTI with a diagonal RAS+ affine."""
    import nibabel as nib

    affine = np.diag([*map(float, spacing), 1.0])
    affine[:3, 3] = origin
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.asarray(data), affine)
    image.header.set_xyzt_units("mm")
    nib.save(image, str(path))


def _spacing(affine: npt.NDArray[np.float64]) -> Spacing:
    norms = np.linalg.norm(affine[:3, :3], axis=0)
    return (float(norms[0]), float(norms[1]), float(norms[2]))


def _check_affine(path: Path, affine: npt.NDArray[np.float64]) -> None:
    spacing = _spacing(affine)
    if not all(math.isfinite(s) and s > 0 for s in spacing) or not np.all(np.isfinite(affine)):
        raise DataError(DataErrorCode.MISSING_SPACING, f"{path}: no valid spacing/orientation ({spacing})")


def _read_nifti(path: Path) -> ImageVolume:
    import nibabel as nib

    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)  # type: ignore[attr-defined]
        affine = np.asarray(image.affine, dtype=np.float64)  # type: ignore[attr-defined]
    except Exception as exc:  # nibabel raises several unrelated types (EOFError, zlib.error, ...)
        raise DataError(DataErrorCode.UNREADABLE, f"{path}: {exc}") from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(DataErrorCode.NOT_3D, f"{path}: expected 3 dimensions, got {data.shape}")
    _check_affine(path, affine)
    return canonical(data, affine)


def _read_nrrd(path: Path) -> ImageVolume:
    import nrrd

    try:
        data, header = nrrd.read(str(path))
    except Exception as exc:  # pynrrd raises several unrelated types for broken files
        raise DataError(DataErrorCode.UNREADABLE, f"{path}: {exc}") from exc
    if data.ndim != 3:
        raise DataError(DataErrorCode.NOT_3D, f"{path}: expected 3 dimensions, got {data.shape}")
    directions = header.get("space directions")
    if directions is not None:
        matrix = np.asarray(directions, dtype=np.float64).T  # columns are the axes' step vectors
    elif header.get("spacings") is not None:
        matrix = np.diag(np.asarray(header["spacings"], dtype=np.float64))
    else:
        raise DataError(DataErrorCode.MISSING_SPACING, f"{path}: no 'space directions' or 'spacings'")
    origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=np.float64)
    space = str(header.get("space", "right-anterior-superior")).lower()
    letters = [part[0] for part in space.split("-")] if "-" in space else list(space[:3])
    if len(letters) != 3 or any(letter not in _TO_RAS for letter in letters):
        raise DataError(DataErrorCode.UNSUPPORTED_FORMAT, f"{path}: unsupported NRRD space {space!r}")
    flip = np.diag([_TO_RAS[letter] for letter in letters])
    affine = np.eye(4)
    affine[:3, :3] = flip @ matrix
    affine[:3, 3] = flip @ origin
    _check_affine(path, affine)
    return canonical(data, affine)


def _read_dicom(directory: Path) -> ImageVolume:
    import SimpleITK as sitk  # noqa: N813  (the conventional name)

    try:
        reader = sitk.ImageSeriesReader()
        files = reader.GetGDCMSeriesFileNames(str(directory))
        if not files:
            raise DataError(DataErrorCode.UNREADABLE, f"{directory}: no DICOM series or TIFF slices found")
        reader.SetFileNames(files)
        image = reader.Execute()
    except DataError:
        raise
    except Exception as exc:  # SimpleITK raises RuntimeError with the ITK message
        raise DataError(DataErrorCode.UNREADABLE, f"{directory}: {exc}") from exc
    data = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # ITK arrays are (z, y, x)
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction @ np.diag(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # DICOM patient space is LPS+
    _check_affine(directory, affine)
    return canonical(data, affine)


def _read_tiff(files: list[Path], spacing: Spacing | None, where: Path) -> ImageVolume:
    import tifffile

    if spacing is None:
        raise DataError(
            DataErrorCode.MISSING_SPACING,
            f"{where}: TIFF has no physical spacing; pass tiff_spacing=(x, y, z) mm",
        )
    pages: list[tuple[Path, int]] = []
    shapes: set[tuple[int, ...]] = set()
    dtypes: set[np.dtype[Any]] = set()
    try:
        for file in files:
            with tifffile.TiffFile(file) as tif:
                for index, page in enumerate(tif.pages):
                    pages.append((file, index))
                    shapes.add(tuple(page.shape))  # type: ignore[union-attr]
                    dtypes.add(np.dtype(page.dtype))  # type: ignore[union-attr]
    except Exception as exc:
        raise DataError(DataErrorCode.UNREADABLE, f"{where}: {exc}") from exc
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise DataError(
            DataErrorCode.SHAPE_MISMATCH, f"{where}: TIFF pages must be 2-D and equal, got {shapes}"
        )
    rows, cols = next(iter(shapes))
    stack = LazyTiffStack(pages, (rows, cols), dtypes.pop())
    affine = np.diag([*map(float, spacing), 1.0])
    return ImageVolume(data=stack, spacing=_spacing(affine), affine=affine)
