"""Validation excludes broken cases with a reason before a reproducible subject-level split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest
from pydantic import ValidationError

from hounsfield.data.cases import DatasetLayout, SkullCase
from hounsfield.data.errors import DataErrorCode
from hounsfield.data.prepare import (
    PrepareConfig,
    SplitFractions,
    load_split_cases,
    prepare_dataset,
    read_split_csv,
)
from hounsfield.data.synthetic_skulls import generate_skullbreak
from hounsfield.data.volume_io import write_mask_nrrd


def _dataset(root: Path, n_subjects: int = 8) -> list[SkullCase]:
    return generate_skullbreak(root, n_subjects=n_subjects, shape=(32, 32, 32), seed=3)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_clean_dataset_split_by_subject_and_reproducible(tmp_path: Path) -> None:
    root = tmp_path / "data"
    cases = _dataset(root)
    first = prepare_dataset(root, tmp_path / "a", PrepareConfig(seed=5))
    second = prepare_dataset(root, tmp_path / "b", PrepareConfig(seed=5))
    assert first.excluded == [] and len(first.included) == len(cases) == 40
    assert first.split_csv.read_text() == second.split_csv.read_text()
    rows = _rows(first.split_csv)
    assert list(rows[0]) == ["case_id", "defect_class", "split"]
    by_subject: dict[str, set[str]] = {}
    for case in cases:
        by_subject.setdefault(case.subject_id, set()).add(first.splits[case.case_id])
    assert all(len(splits) == 1 for splits in by_subject.values())
    counts = {s: sum(1 for v in by_subject.values() if v == {s}) for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 1, "test": 1}  # 0.7 / 0.1 / 0.2 of 8 subjects, rounded
    other_seed = prepare_dataset(root, tmp_path / "c", PrepareConfig(seed=6))
    assert other_seed.splits != first.splits
    train = load_split_cases(root, first.split_csv, "train")
    assert {c.case_id for c in train} == {c.case_id for c in first.cases("train")}


def test_corrupted_cases_are_excluded_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "data"
    cases = {c.case_id: c for c in _dataset(root)}
    # truncated NRRD (a torn copy)
    torn = cases["000_bilateral"].defective_path
    torn.write_bytes(torn.read_bytes()[: len(torn.read_bytes()) // 2])
    # empty implant mask
    empty = cases["001_random_1"].implant_path
    write_mask_nrrd(
        empty, np.zeros((32, 32, 32), np.uint8), nrrd.read_header(str(empty))["space directions"].diagonal()
    )
    # wrong shape
    wrong = cases["002_frontoorbital"].defective_path
    write_mask_nrrd(wrong, np.ones((32, 32, 30), np.uint8), (6.4, 6.4, 6.4))
    # no spacing in the header
    bare = cases["003_parietotemporal"].implant_path
    data, _ = nrrd.read(str(bare))
    nrrd.write(str(bare), data)
    # a broken complete skull takes all five defects of its subject with it
    complete = cases["004_bilateral"].complete_path
    complete.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\n")
    # a label map instead of a binary mask
    labels = cases["005_random_2"].defective_path
    data, header = nrrd.read(str(labels))
    nrrd.write(str(labels), (data * 2).astype(np.uint8), header)

    prepared = prepare_dataset(root, tmp_path / "out")
    reasons = {e.case_id: e.code for e in prepared.excluded}
    assert reasons == {
        "000_bilateral": DataErrorCode.UNREADABLE,
        "001_random_1": DataErrorCode.EMPTY_IMPLANT,
        "002_frontoorbital": DataErrorCode.SHAPE_MISMATCH,
        "003_parietotemporal": DataErrorCode.MISSING_SPACING,
        "004_bilateral": DataErrorCode.UNREADABLE,
        "004_frontoorbital": DataErrorCode.UNREADABLE,
        "004_parietotemporal": DataErrorCode.UNREADABLE,
        "004_random_1": DataErrorCode.UNREADABLE,
        "004_random_2": DataErrorCode.UNREADABLE,
        "005_random_2": DataErrorCode.NOT_BINARY,
    }
    assert len(prepared.included) == 30
    split_ids = set(read_split_csv(prepared.split_csv))
    assert split_ids == {c.case_id for c in prepared.included} and not split_ids & set(reasons)
    report = json.loads(prepared.report_path.read_text())
    assert report["n_cases"] == 40 and report["n_excluded"] == 10
    assert {e["case_id"]: e["code"] for e in report["excluded"]}["002_frontoorbital"] == "shape_mismatch"
    assert all(e["reason"] for e in report["excluded"])
    # subjects with some good cases are still split as a whole
    assert prepared.splits["000_random_1"] == prepared.splits["000_random_2"]


def test_expected_shape_is_enforced(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _dataset(root, n_subjects=1)
    prepared = prepare_dataset(root, tmp_path / "out", PrepareConfig(expected_shape=(512, 512, 512)))
    assert {e.code for e in prepared.excluded} == {DataErrorCode.UNEXPECTED_SHAPE}
    assert prepared.included == []


def test_missing_partner_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "data"
    cases = _dataset(root, n_subjects=2)
    cases[0].implant_path.unlink()
    prepared = prepare_dataset(root, tmp_path / "out")
    assert [(e.case_id, e.code) for e in prepared.excluded] == [
        (cases[0].case_id, DataErrorCode.MISSING_FILE)
    ]


def test_split_fractions_must_sum_to_one() -> None:
    with pytest.raises(ValidationError):
        SplitFractions(train=0.8, val=0.1, test=0.2)


def test_nifti_skullfix_layout_is_discovered_and_validated(tmp_path: Path) -> None:
    root = tmp_path / "skullfix"
    complete = np.zeros((12, 12, 12), np.uint8)
    complete[3:9, 3:9, 3:9] = 1
    implant = np.zeros_like(complete)
    implant[3:5, 3:9, 3:9] = 1
    affine = np.diag([0.45, 0.45, 0.6, 1.0])
    for folder, mask in (
        ("complete_skull", complete),
        ("defective_skull", complete - implant),
        ("implant", implant),
    ):
        (root / folder).mkdir(parents=True)
        nib.save(nib.Nifti1Image(mask, affine), str(root / folder / "017.nii.gz"))
    prepared = prepare_dataset(root, tmp_path / "out", PrepareConfig(layout=DatasetLayout.SKULLFIX))
    assert [c.case_id for c in prepared.included] == ["017"] and prepared.excluded == []
    assert prepared.included[0].implant_path.name == "017.nii.gz"
