"""Preparation acceptance: 10 phantoms + a truncated file + a NaN volume + an exact duplicate."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hounsfield.data.ct_phantoms import ct_phantom, write_phantom_dataset
from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.volumes import write_nifti
from hounsfield.data.volumes.prepare import (
    MANIFEST,
    VolumePrepareConfig,
    ensure_prepared,
    is_stale,
    main,
    manifest_hash,
    prepare_volumes,
)

SHAPE = (24, 24, 28)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ct")
    # 10 usable volumes of 7 patients (3 patients have two scans)
    written = write_phantom_dataset(root, 7, shape=SHAPE, seed=1)
    for p in range(3):
        write_nifti(root / f"P{p:03d}" / "ct_1.nii.gz", ct_phantom(SHAPE, seed=100 + p), written[0].spacing)
    truncated = root / "P007" / "ct_0.nii.gz"
    write_nifti(truncated, ct_phantom(SHAPE, seed=200), written[0].spacing)
    truncated.write_bytes(truncated.read_bytes()[:1500])
    nan = ct_phantom(SHAPE, seed=201).astype(np.float32)
    nan[3, 4, 5] = np.nan
    write_nifti(root / "P008" / "ct_0.nii.gz", nan, written[0].spacing)
    (root / "P009").mkdir()
    shutil.copy(root / "P001" / "ct_0.nii.gz", root / "P009" / "ct_0.nii.gz")
    return root


def test_ten_usable_three_excluded_with_reasons_and_patients_in_one_split(
    dataset: Path, tmp_path: Path
) -> None:
    manifest = prepare_volumes(dataset, tmp_path, VolumePrepareConfig(window="ctpa", min_shape=(16, 16, 16)))
    assert len(manifest.cases) == 10
    reasons = {e.case_id: (e.code, e.reason) for e in manifest.excluded}
    assert set(reasons) == {"P007/ct_0", "P008/ct_0", "P009/ct_0"}
    assert reasons["P007/ct_0"][0] == DataErrorCode.UNREADABLE
    assert (
        reasons["P008/ct_0"][0] == DataErrorCode.NOT_FINITE and "1 voxels are NaN" in reasons["P008/ct_0"][1]
    )
    assert reasons["P009/ct_0"][0] == DataErrorCode.DUPLICATE and "P001/ct_0" in reasons["P009/ct_0"][1]
    split_of_patient: dict[str, set[str]] = {}
    for case in manifest.cases:
        split_of_patient.setdefault(case.patient_id, set()).add(case.split)
    assert all(len(s) == 1 for s in split_of_patient.values())
    assert manifest.split_counts["train"] > 0 and manifest.split_counts["val"] > 0
    # prepared arrays are windowed to [0, 1] and stored beside the manifest
    first = manifest.cases[0]
    prepared = np.load(tmp_path / first.prepared)
    assert (
        prepared.shape == SHAPE and prepared.dtype == np.float32 and 0 <= prepared.min() < prepared.max() <= 1
    )
    stored = json.loads((tmp_path / MANIFEST).read_text())
    assert len(stored["excluded"]) == 3 and stored["settings"]["window"] == "ctpa"
    assert len(manifest_hash(tmp_path)) == 64


def test_user_split_with_a_patient_in_two_sets_is_refused_naming_it(dataset: Path, tmp_path: Path) -> None:
    split = tmp_path / "split.csv"
    with split.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "split"])
        writer.writerows(
            [["P000/ct_0", "train"], ["P000/ct_1", "val"], ["P001/ct_0", "train"], ["P002/ct_0", "val"]]
        )
    with pytest.raises(DataError) as error:
        prepare_volumes(dataset, tmp_path / "out", VolumePrepareConfig(split_csv=split))
    assert error.value.code == DataErrorCode.SPLIT_OVERLAP
    assert "P000 in train, val" in error.value.message and "P001" not in error.value.message
    assert main([str(dataset), str(tmp_path / "cli"), "--split-csv", str(split)]) == 2


def test_manifest_is_reused_until_settings_or_files_change(dataset: Path, tmp_path: Path) -> None:
    config = VolumePrepareConfig()
    first = ensure_prepared(dataset, tmp_path, config)
    assert is_stale(dataset, tmp_path, config) is None
    assert ensure_prepared(dataset, tmp_path, config) == first
    assert (
        is_stale(dataset, tmp_path, VolumePrepareConfig(window="lung")) == "the preparation settings changed"
    )


def test_cli_prints_exclusions(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(dataset), str(tmp_path), "--window=-600,1500", "--range=-1,1"]) == 0
    out = capsys.readouterr().out
    assert "10 usable, 3 excluded" in out and "duplicate" in out and "sha256" in out
