"""Every reader returns the canonical frame: axes (x, y, z), closest RAS+, spacing in mm.

Each test writes a volume whose voxel values are their own flat index in a non-canonical
orientation, reads it back, and checks voxel by voxel that every original voxel lands where its
world (RAS+ mm) position says it must, and that the canonical affine is diagonal and positive.
"""

from __future__ import annotations

import locale
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.volumes import ImageVolume, read_image

SHAPE = (4, 5, 6)


def _indexed() -> npt.NDArray[np.int16]:
    return np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)


def _assert_same_world(
    original: npt.NDArray[np.int16], ras_affine: npt.NDArray[np.float64], read: ImageVolume
) -> None:
    """Each voxel of ``original`` (index -> RAS+ by ``ras_affine``) is at its world place in ``read``."""
    linear = read.affine[:3, :3]
    assert np.allclose(linear, np.diag(np.diag(linear))) and np.all(np.diag(linear) > 0)
    assert np.allclose(read.spacing, np.diag(linear))
    data = read.array(np.float64)
    to_read = np.linalg.inv(read.affine) @ ras_affine
    for index in np.ndindex(original.shape):
        target = np.rint(to_read @ np.array([*index, 1.0]))[:3].astype(int)
        assert data[tuple(target)] == original[index]


def test_nifti_with_permuted_and_flipped_axes(tmp_path: Path) -> None:
    import nibabel as nib

    # axis 0 runs towards Superior, axis 1 towards Left, axis 2 towards Anterior
    affine = np.array([[0, -2.0, 0, 10], [0, 0, 3.0, -5], [4.0, 0, 0, 7], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(_indexed(), affine), str(tmp_path / "v.nii.gz"))
    read = read_image(tmp_path / "v.nii.gz")
    assert read.shape == (5, 6, 4) and read.spacing == pytest.approx((2.0, 3.0, 4.0))
    _assert_same_world(_indexed(), affine, read)


def test_nrrd_in_lps_space(tmp_path: Path) -> None:
    import nrrd

    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.7, 0.8, 2.5]),
        "space origin": np.array([1.0, 2.0, 3.0]),
    }
    nrrd.write(str(tmp_path / "v.nrrd"), _indexed(), header)
    read = read_image(tmp_path / "v.nrrd")
    ras = np.diag([-0.7, -0.8, 2.5, 1.0])
    ras[:3, 3] = [-1.0, -2.0, 3.0]
    assert read.shape == SHAPE and read.spacing == pytest.approx((0.7, 0.8, 2.5))
    _assert_same_world(_indexed(), ras, read)
    # LPS -> RAS flips x and y: the first voxel of the file is the last along both in canonical order
    assert read.array()[SHAPE[0] - 1, SHAPE[1] - 1, 0] == 0


def test_dicom_series(tmp_path: Path) -> None:
    import SimpleITK as sitk  # noqa: N813  (the conventional name)

    original = _indexed()
    series = tmp_path / "series"
    series.mkdir()
    ctype = locale.setlocale(locale.LC_CTYPE)  # GDCM's DICOM writer resets it to "C"; restored below
    spacing = (0.6, 0.7, 2.0)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(SHAPE[2]):
        plane = sitk.GetImageFromArray(original[:, :, k].T.copy())  # ITK 2-D arrays are (rows=y, cols=x)
        plane.SetSpacing(spacing[:2])
        tags = {
            "0008|0060": "CT",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.1",
            "0020|000e": "1.2.826.0.1.3680043.2.1125.2",
            "0020|0032": f"0\\0\\{k * spacing[2]}",  # image position (LPS)
            "0020|0037": "1\\0\\0\\0\\1\\0",  # rows along +L, columns along +P
            "0020|0013": str(k + 1),
            "0028|0030": f"{spacing[1]}\\{spacing[0]}",
            "0018|0050": str(spacing[2]),
        }
        for tag, value in tags.items():
            plane.SetMetaData(tag, value)
        writer.SetFileName(str(series / f"slice{k:03d}.dcm"))
        writer.Execute(plane)
    locale.setlocale(locale.LC_CTYPE, ctype)
    read = read_image(series)
    ras = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    assert read.shape == SHAPE and read.spacing == pytest.approx(spacing)
    _assert_same_world(original, ras, read)


def test_tiff_stack_is_read_lazily(tmp_path: Path) -> None:
    import tifffile

    original = _indexed()
    with tifffile.TiffWriter(tmp_path / "stack.tif") as tif:
        for k in range(SHAPE[2]):
            tif.write(original[:, :, k].T.copy())  # a page is (rows=y, cols=x)
    read = read_image(tmp_path / "stack.tif", tiff_spacing=(0.1, 0.1, 0.2))
    assert read.shape == SHAPE and read.spacing == pytest.approx((0.1, 0.1, 0.2))
    stack = read.data
    block = stack[1:3, 0:2, 2:4]
    assert np.array_equal(block, original[1:3, 0:2, 2:4])
    assert stack.pages_read == 2  # type: ignore[union-attr]
    assert np.array_equal(read.array(np.int16), original)
    _assert_same_world(original, np.diag([0.1, 0.1, 0.2, 1.0]), read)


def test_tiff_directory_needs_a_spacing(tmp_path: Path) -> None:
    import tifffile

    for k in range(3):
        tifffile.imwrite(tmp_path / f"s{k:02d}.tif", np.full((5, 4), k, dtype=np.uint8))
    with pytest.raises(DataError, match="tiff_spacing") as error:
        read_image(tmp_path)
    assert error.value.code == DataErrorCode.MISSING_SPACING
    read = read_image(tmp_path, tiff_spacing=(1.0, 1.0, 1.0))
    assert read.shape == (4, 5, 3) and read.array()[0, 0, 2] == 2


def test_truncated_nifti_is_unreadable(tmp_path: Path) -> None:
    import nibabel as nib

    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).normal(size=(20, 20, 20)), np.eye(4)), str(path))
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError) as error:
        read_image(path)
    assert error.value.code == DataErrorCode.UNREADABLE and "v.nii.gz" in error.value.message
