"""Reading and writing binary skull volumes (NRRD through pynrrd, NIfTI through nibabel).

Arrays keep the on-disk axis order that both libraries return by default: ``data[i, j, k]`` is
the voxel at index ``(i, j, k)`` along the file's first, second and third axis (NRRD "sizes"
order, NIfTI ``dim[1..3]``). The spacing is the length in millimetres of one step along each of
those axes. Origin and direction cosines are kept for reference only: every coordinate in this
package is relative to voxel ``(0, 0, 0)`` and axis-aligned (see ``coordinates``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode

NRRD_SUFFIXES = (".nrrd", ".nhdr")
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class Volume:
    """A 3-D array with its voxel spacing in mm (one value per array axis)."""

    data: npt.NDArray[np.generic]
    spacing: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.data.shape
        return (int(s[0]), int(s[1]), int(s[2]))


def is_volume_file(path: Path) -> bool:
    """True for the file names this module can read."""
    name = path.name.lower()
    return name.endswith(NRRD_SUFFIXES) or name.endswith(NIFTI_SUFFIXES)


def volume_stem(path: Path) -> str:
    """File name without its volume suffix (``001.nii.gz`` -> ``001``)."""
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, *NRRD_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_volume(path: Path) -> Volume:
    """Read a 3-D NRRD or NIfTI volume with its spacing; raise ``DataError`` on any problem."""
    if not path.is_file():
        raise DataError(DataErrorCode.MISSING_FILE, f"{path} does not exist")
    name = path.name.lower()
    if name.endswith(NRRD_SUFFIXES):
        volume = _read_nrrd(path)
    elif name.endswith(NIFTI_SUFFIXES):
        volume = _read_nifti(path)
    else:
        raise DataError(DataErrorCode.UNSUPPORTED_FORMAT, f"{path}: expected .nrrd, .nhdr, .nii or .nii.gz")
    if volume.data.ndim != 3:
        raise DataError(DataErrorCode.NOT_3D, f"{path}: expected 3 dimensions, got {volume.data.shape}")
    return volume


def read_mask(path: Path) -> tuple[npt.NDArray[np.bool_], tuple[float, float, float]]:
    """Read a volume as a boolean mask (non-zero is inside) and its spacing."""
    volume = read_volume(path)
    return np.asarray(volume.data) != 0, volume.spacing


def write_mask_nrrd(path: Path, mask: npt.NDArray[np.generic], spacing: tuple[float, float, float]) -> None:
    """Write a binary uint8 NRRD with the spacing as ``space directions`` (SkullBreak style)."""
    import nrrd

    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag(np.asarray(spacing, dtype=np.float64)),
        "space origin": np.zeros(3),
        "encoding": "gzip",
        "kinds": ["domain", "domain", "domain"],
    }
    nrrd.write(str(path), np.asarray(mask, dtype=np.uint8), header)


def _read_nrrd(path: Path) -> Volume:
    import nrrd

    try:
        data, header = nrrd.read(str(path))
    except Exception as exc:  # pynrrd raises several unrelated types for broken files
        raise DataError(DataErrorCode.UNREADABLE, f"{path}: {exc}") from exc
    spacing = _nrrd_spacing(header, data.ndim)
    if spacing is None:
        raise DataError(
            DataErrorCode.MISSING_SPACING, f"{path}: no positive 'space directions' or 'spacings'"
        )
    return Volume(data=data, spacing=spacing)


def _nrrd_spacing(header: dict[str, object], ndim: int) -> tuple[float, float, float] | None:
    if ndim != 3:
        return (1.0, 1.0, 1.0)  # the caller reports NOT_3D, which is the more useful reason
    directions = header.get("space directions")
    values: list[float] = []
    if directions is not None:
        for row in np.asarray(directions, dtype=object):
            vec = np.asarray(row, dtype=np.float64) if row is not None else np.array([np.nan])
            if vec.size != 3 or not np.all(np.isfinite(vec)):
                continue  # "none" rows belong to non-spatial axes
            values.append(float(np.linalg.norm(vec)))
    if len(values) != 3:
        spacings = header.get("spacings")
        values = [] if spacings is None else [float(v) for v in np.asarray(spacings, dtype=np.float64)]
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return (values[0], values[1], values[2])


def _read_nifti(path: Path) -> Volume:
    import nibabel as nib

    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)  # type: ignore[attr-defined]  # every NIfTI image has it
        zooms = image.header.get_zooms()  # type: ignore[attr-defined]
    except Exception as exc:  # nibabel raises several unrelated types for broken files
        raise DataError(DataErrorCode.UNREADABLE, f"{path}: {exc}") from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    values = [float(z) for z in zooms[:3]]
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise DataError(DataErrorCode.MISSING_SPACING, f"{path}: invalid pixdim {zooms}")
    return Volume(data=data, spacing=(values[0], values[1], values[2]))
