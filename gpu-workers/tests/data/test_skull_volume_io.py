"""Reading NRRD and NIfTI masks with their spacing, and the error codes for broken files."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.volume_io import read_mask, read_volume, volume_stem, write_mask_nrrd


def _mask() -> np.ndarray:
    mask = np.zeros((6, 7, 8), dtype=np.uint8)
    mask[2:4, 3:5, 1:6] = 1
    return mask


def test_nrrd_round_trip_keeps_axes_and_spacing(tmp_path: Path) -> None:
    path = tmp_path / "a.nrrd"
    write_mask_nrrd(path, _mask(), (0.4, 0.5, 0.6))
    volume = read_volume(path)
    np.testing.assert_array_equal(volume.data, _mask())
    assert volume.spacing == pytest.approx((0.4, 0.5, 0.6))
    mask, spacing = read_mask(path)
    assert mask.dtype == bool and mask.sum() == _mask().sum()


def test_nrrd_spacings_field_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b.nrrd"
    nrrd.write(str(path), _mask(), {"spacings": [1.0, 2.0, 3.0]})
    assert read_volume(path).spacing == pytest.approx((1.0, 2.0, 3.0))


def test_nifti_spacing_from_zooms(tmp_path: Path) -> None:
    path = tmp_path / "c.nii.gz"
    image = nib.Nifti1Image(_mask(), affine=np.diag([0.45, 0.45, 0.7, 1.0]))
    nib.save(image, str(path))
    volume = read_volume(path)
    np.testing.assert_array_equal(volume.data, _mask())
    assert volume.spacing == pytest.approx((0.45, 0.45, 0.7))
    assert volume_stem(path) == "c"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        ("missing", DataErrorCode.MISSING_FILE),
        ("truncated", DataErrorCode.UNREADABLE),
        ("no_spacing", DataErrorCode.MISSING_SPACING),
        ("two_d", DataErrorCode.NOT_3D),
        ("wrong_suffix", DataErrorCode.UNSUPPORTED_FORMAT),
    ],
)
def test_broken_files_raise_coded_errors(tmp_path: Path, make: str, code: DataErrorCode) -> None:
    path = tmp_path / "x.nrrd"
    if make == "truncated":
        write_mask_nrrd(path, _mask(), (1.0, 1.0, 1.0))
        path.write_bytes(path.read_bytes()[:-12])
    elif make == "no_spacing":
        nrrd.write(str(path), _mask())
    elif make == "two_d":
        nrrd.write(str(path), _mask()[0], {"spacings": [1.0, 1.0]})
    elif make == "wrong_suffix":
        path = tmp_path / "x.mha"
        path.write_bytes(b"not a volume")
    with pytest.raises(DataError) as info:
        read_volume(path)
    assert info.value.code is code
