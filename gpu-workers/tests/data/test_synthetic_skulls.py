"""The synthetic skull generator writes a valid SkullBreak layout with plausible skulls."""

from __future__ import annotations

from pathlib import Path

import nrrd
import numpy as np
import pytest

from hounsfield.data.cases import SKULLBREAK_DEFECT_CLASSES, DatasetLayout, SkullCase, discover_cases
from hounsfield.data.synthetic_skulls import generate_skullbreak, generate_skullfix, synthesize_subject


def test_layout_matches_skullbreak_and_discovery(skullbreak_64: tuple[Path, list[SkullCase]]) -> None:
    root, cases = skullbreak_64
    assert len(cases) == 2 * len(SKULLBREAK_DEFECT_CLASSES)
    for subject in ("000", "001"):
        assert (root / "complete_skull" / f"{subject}.nrrd").is_file()
        for defect_class in SKULLBREAK_DEFECT_CLASSES:
            assert (root / "defective_skull" / defect_class / f"{subject}.nrrd").is_file()
            assert (root / "implant" / defect_class / f"{subject}.nrrd").is_file()
    assert discover_cases(root) == sorted(cases, key=lambda c: c.case_id)


def test_files_are_binary_uint8_with_spacing_in_header(skullbreak_64: tuple[Path, list[SkullCase]]) -> None:
    _, cases = skullbreak_64
    data, header = nrrd.read(str(cases[0].defective_path))
    assert data.dtype == np.uint8 and data.shape == (64, 64, 64)
    assert set(np.unique(data)) == {0, 1}
    np.testing.assert_allclose(np.diag(header["space directions"]), [3.2, 3.2, 3.2])


def test_implant_is_exactly_the_removed_bone(skullbreak_64: tuple[Path, list[SkullCase]]) -> None:
    _, cases = skullbreak_64
    for case in cases:
        complete = nrrd.read(str(case.complete_path))[0].astype(bool)
        defective = nrrd.read(str(case.defective_path))[0].astype(bool)
        implant = nrrd.read(str(case.implant_path))[0].astype(bool)
        assert implant.sum() > 50, case.case_id
        assert not (defective & ~complete).any()
        np.testing.assert_array_equal(implant, complete & ~defective)


def test_fixed_seed_per_subject_and_variation_between_subjects() -> None:
    a = synthesize_subject(1, (40, 40, 40), seed=3)
    b = synthesize_subject(1, (40, 40, 40), seed=3)
    other_subject = synthesize_subject(2, (40, 40, 40), seed=3)
    other_seed = synthesize_subject(1, (40, 40, 40), seed=4)
    np.testing.assert_array_equal(a.complete, b.complete)
    for name in SKULLBREAK_DEFECT_CLASSES:
        np.testing.assert_array_equal(a.defective[name], b.defective[name])
    assert (a.complete != other_subject.complete).any()
    assert (a.complete != other_seed.complete).any()


def test_defect_classes_are_placed_like_skullbreak() -> None:
    subject = synthesize_subject(0, (64, 64, 64), seed=11)
    bone = np.argwhere(subject.complete)
    centre, extent = bone.mean(axis=0), np.ptp(bone, axis=0)
    centroids = {name: np.argwhere(subject.implant(name)).mean(axis=0) for name in SKULLBREAK_DEFECT_CLASSES}
    bilateral = np.argwhere(subject.implant("bilateral"))
    # across the vertex: high up and on both sides of the midline
    assert centroids["bilateral"][2] > centre[2] + 0.25 * extent[2]
    assert (
        bilateral[:, 0].min()
        < centre[0] - 0.25 * extent[0]
        < centre[0] + 0.25 * extent[0]
        < bilateral[:, 0].max()
    )
    # frontal (anterior is +axis 1); lateral for parietotemporal
    assert centroids["frontoorbital"][1] > centre[1] + 0.3 * extent[1]
    assert abs(centroids["parietotemporal"][0] - centre[0]) > 0.3 * extent[0]
    # every class removes a different region
    implants = [subject.implant(name) for name in SKULLBREAK_DEFECT_CLASSES]
    for i in range(len(implants)):
        for j in range(i + 1, len(implants)):
            overlap = (implants[i] & implants[j]).sum() / min(implants[i].sum(), implants[j].sum())
            assert overlap < 0.5


def test_skull_is_an_open_shell_away_from_the_volume_border() -> None:
    subject = synthesize_subject(0, (48, 48, 48), seed=5)
    bone = subject.complete
    for axis in range(3):
        assert not np.take(bone, [0, -1], axis=axis).any(), "marching cubes needs a free border"
    # hollow: the centre of the cranium is not bone; open base: nothing below it on the central column
    cx, cy, cz = np.argwhere(bone).mean(axis=0).round().astype(int)
    assert not bone[cx, cy, cz]
    lowest_bone = np.argwhere(bone)[:, 2].min()
    assert not bone[cx, cy, : cz - 2].any() and lowest_bone < cz
    # the rim is wavy: the lowest bone height varies around the skull
    rim_heights = {int(np.argwhere(bone[x])[:, 1].min()) for x in range(48) if bone[x].any()}
    assert len(rim_heights) > 3


def test_same_subject_at_two_resolutions_agrees() -> None:
    coarse = synthesize_subject(4, (32, 32, 32), seed=1).complete
    fine = synthesize_subject(4, (64, 64, 64), seed=1).complete
    pooled = fine.reshape(32, 2, 32, 2, 32, 2).mean(axis=(1, 3, 5)) >= 0.5
    dice = 2 * (pooled & coarse).sum() / (pooled.sum() + coarse.sum())
    assert dice > 0.7


def test_non_cubic_anisotropic_grid_and_skullfix_layout(tmp_path: Path) -> None:
    cases = generate_skullfix(tmp_path, n_subjects=2, shape=(40, 48, 36), spacing_mm=(5.0, 4.2, 5.6), seed=2)
    assert [c.case_id for c in discover_cases(tmp_path, DatasetLayout.SKULLFIX)] == ["000", "001"]
    data, header = nrrd.read(str(cases[0].implant_path))
    assert data.shape == (40, 48, 36) and data.any()
    np.testing.assert_allclose(np.diag(header["space directions"]), [5.0, 4.2, 5.6])
    assert (tmp_path / "defective_skull" / "001.nrrd").is_file()


def test_unknown_defect_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown defect class"):
        synthesize_subject(0, (16, 16, 16), defect_classes=("occipital",))


def test_writes_exactly_the_requested_classes(tmp_path: Path) -> None:
    cases = generate_skullbreak(tmp_path, 1, (32, 32, 32), defect_classes=("bilateral", "random_2"))
    assert [c.defect_class for c in cases] == ["bilateral", "random_2"]
