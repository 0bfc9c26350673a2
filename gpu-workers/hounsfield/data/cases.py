"""Cases of the SkullBreak and SkullFix layouts and how to find them on disk.

SkullBreak::

    <root>/complete_skull/<id>.nrrd
    <root>/defective_skull/<defect_class>/<id>.nrrd
    <root>/implant/<defect_class>/<id>.nrrd

SkullFix (one defect per skull, as the PCDiff preparation scripts expect)::

    <root>/complete_skull/<id>.nrrd
    <root>/defective_skull/<id>.nrrd
    <root>/implant/<id>.nrrd

A case is one defective skull; ``.nii``/``.nii.gz`` files are accepted wherever ``.nrrd`` is.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.volume_io import NIFTI_SUFFIXES, NRRD_SUFFIXES, is_volume_file, volume_stem

SKULLBREAK_DEFECT_CLASSES: tuple[str, ...] = (
    "bilateral",
    "frontoorbital",
    "parietotemporal",
    "random_1",
    "random_2",
)
SKULLFIX_DEFECT_CLASS = "skullfix"


class DatasetLayout(StrEnum):
    SKULLBREAK = "skullbreak"
    SKULLFIX = "skullfix"


class SkullCase(BaseModel):
    """One defective skull with its complete skull and implant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    subject_id: str
    defect_class: str
    complete_path: Path
    defective_path: Path
    implant_path: Path


def skullbreak_case_id(subject_id: str, defect_class: str) -> str:
    return f"{subject_id}_{defect_class}"


def discover_cases(root: Path, layout: DatasetLayout | str = DatasetLayout.SKULLBREAK) -> list[SkullCase]:
    """All cases under ``root``, sorted by case id; files that are missing are left for validation."""
    layout = DatasetLayout(layout)
    defective_root = root / "defective_skull"
    if not defective_root.is_dir():
        raise DataError(DataErrorCode.INVALID_LAYOUT, f"{defective_root} is not a directory")
    cases: list[SkullCase] = []
    if layout is DatasetLayout.SKULLBREAK:
        for defect_class in SKULLBREAK_DEFECT_CLASSES:
            class_dir = defective_root / defect_class
            for defective in _volume_files(class_dir):
                subject = volume_stem(defective)
                cases.append(
                    SkullCase(
                        case_id=skullbreak_case_id(subject, defect_class),
                        subject_id=subject,
                        defect_class=defect_class,
                        complete_path=_sibling(root / "complete_skull", subject, defective),
                        defective_path=defective,
                        implant_path=_sibling(root / "implant" / defect_class, subject, defective),
                    )
                )
    else:
        for defective in _volume_files(defective_root):
            subject = volume_stem(defective)
            cases.append(
                SkullCase(
                    case_id=subject,
                    subject_id=subject,
                    defect_class=SKULLFIX_DEFECT_CLASS,
                    complete_path=_sibling(root / "complete_skull", subject, defective),
                    defective_path=defective,
                    implant_path=_sibling(root / "implant", subject, defective),
                )
            )
    return sorted(cases, key=lambda c: c.case_id)


def _volume_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and is_volume_file(p))


def _sibling(directory: Path, stem: str, like: Path) -> Path:
    """The file for ``stem`` in ``directory`` in any supported format (the defective's first)."""
    own_suffix = like.name[len(volume_stem(like)) :]
    for suffix in (own_suffix, *NRRD_SUFFIXES, *NIFTI_SUFFIXES):
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return directory / f"{stem}{own_suffix}"
