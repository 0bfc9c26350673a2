"""Phantoms are deterministic, anatomically plausible in HU, and written in the patient/volume layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hounsfield.data.ct_phantoms import DEFAULT_SHAPE, ct_phantom, phantom_spacing, write_phantom_dataset
from hounsfield.data.volumes import read_image


def test_same_seed_same_volume_other_seed_other_volume() -> None:
    a, b, c = ct_phantom(seed=1), ct_phantom(seed=1), ct_phantom(seed=2)
    assert a.shape == DEFAULT_SHAPE and a.dtype == np.int16
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_tissues_have_ct_values() -> None:
    hu = ct_phantom((64, 64, 76), seed=0).astype(np.float64)
    mid = hu[:, :, 40]
    assert hu.min() >= -1024 and hu.max() <= 3071
    assert mid[0, 0] == -1000  # air outside the body
    fractions = {
        "air": np.mean(hu < -950),
        "lung": np.mean((hu > -950) & (hu < -700)),
        "fat/soft": np.mean((hu > -200) & (hu < 150)),
        "contrast": np.mean((hu > 180) & (hu < 500)),
        "bone": np.mean(hu > 500),
    }
    for name, share in fractions.items():
        assert share > 0.003, f"{name} missing: {fractions}"
    # the lungs contain branching, contrast-filled vessels
    lung_region = (hu > -950) & (hu < -700)
    assert np.mean(lung_region) > 0.05


def test_dataset_layout_and_spacing(tmp_path: Path) -> None:
    written = write_phantom_dataset(tmp_path, 2, volumes_per_patient=2, shape=(32, 32, 38), seed=4)
    assert sorted(str(p.path.relative_to(tmp_path)) for p in written if p.path) == [
        "P000/ct_0.nii.gz",
        "P000/ct_1.nii.gz",
        "P001/ct_0.nii.gz",
        "P001/ct_1.nii.gz",
    ]
    read = read_image(tmp_path / "P001" / "ct_1.nii.gz")
    assert read.spacing == pytest.approx(phantom_spacing((32, 32, 38)))
    assert np.array_equal(read.array(np.int16), written[3].hu)
