"""Dataset preparation: validate every case first, exclude and report failures, then split.

Validation reads each file once (a complete skull shared by five SkullBreak defects is read once)
and checks that it is readable, 3-D, binary, non-empty, has a spacing, matches its partners'
shape and spacing (and an expected shape, if given) and that the implant is non-empty. Only the
cases that pass are split, by subject, so a corrupted file can never break a split mid-training.

Outputs in ``out_dir``: ``split.csv`` (``case_id,defect_class,split``) and
``validation_report.json`` (counts and every exclusion with its code and reason).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hounsfield.data.cases import DatasetLayout, SkullCase, discover_cases
from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.volume_io import Volume, read_volume

logger = logging.getLogger(__name__)

SplitName = Literal["train", "val", "test"]
SPLIT_CSV = "split.csv"
REPORT_JSON = "validation_report.json"
_SPACING_RTOL = 1e-3


class SplitFractions(BaseModel):
    """Share of subjects per split; must sum to one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: float = Field(default=0.7, ge=0, le=1)
    val: float = Field(default=0.1, ge=0, le=1)
    test: float = Field(default=0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitFractions:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {self.train + self.val + self.test}")
        return self


class PrepareConfig(BaseModel):
    """How to validate and split one dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: DatasetLayout = DatasetLayout.SKULLBREAK
    expected_shape: tuple[int, int, int] | None = None
    fractions: SplitFractions = SplitFractions()
    seed: int = 0


class CaseExclusion(BaseModel):
    """A case left out of the split, and why."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    subject_id: str
    defect_class: str
    code: DataErrorCode
    reason: str


class PreparedDataset(BaseModel):
    """The result of ``prepare_dataset``."""

    included: list[SkullCase]
    excluded: list[CaseExclusion]
    splits: dict[str, SplitName]  # case_id -> split
    split_csv: Path
    report_path: Path

    def cases(self, split: SplitName) -> list[SkullCase]:
        return [c for c in self.included if self.splits[c.case_id] == split]


@dataclass(frozen=True)
class _VolumeSummary:
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    nonzero: int


VolumeReader = Callable[[Path], Volume]


def prepare_dataset(root: Path, out_dir: Path, config: PrepareConfig | None = None) -> PreparedDataset:
    """Discover, validate, split and write ``split.csv`` and ``validation_report.json``."""
    config = config or PrepareConfig()
    cases = discover_cases(root, config.layout)
    included, excluded = validate_cases(cases, expected_shape=config.expected_shape)
    splits = split_by_subject(included, config.fractions, config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    split_csv = out_dir / SPLIT_CSV
    write_split_csv(split_csv, included, splits)
    report_path = out_dir / REPORT_JSON
    report = {
        "root": str(root),
        "layout": config.layout.value,
        "n_cases": len(cases),
        "n_included": len(included),
        "n_excluded": len(excluded),
        "split_counts": {s: sum(1 for v in splits.values() if v == s) for s in ("train", "val", "test")},
        "excluded": [e.model_dump(mode="json") for e in excluded],
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return PreparedDataset(
        included=included, excluded=excluded, splits=splits, split_csv=split_csv, report_path=report_path
    )


def validate_cases(
    cases: Sequence[SkullCase],
    expected_shape: tuple[int, int, int] | None = None,
    reader: VolumeReader = read_volume,
) -> tuple[list[SkullCase], list[CaseExclusion]]:
    """Split ``cases`` into those that pass every check and exclusions with reasons."""
    summaries: dict[Path, _VolumeSummary | DataError] = {}

    def summary(path: Path) -> _VolumeSummary:
        if path not in summaries:
            try:
                summaries[path] = _summarise(path, reader)
            except DataError as exc:
                summaries[path] = exc
        found = summaries[path]
        if isinstance(found, DataError):
            raise found
        return found

    included: list[SkullCase] = []
    excluded: list[CaseExclusion] = []
    for case in cases:
        try:
            _check_case(case, summary, expected_shape)
        except DataError as exc:
            logger.warning("excluding case %s: %s", case.case_id, exc)
            excluded.append(
                CaseExclusion(
                    case_id=case.case_id,
                    subject_id=case.subject_id,
                    defect_class=case.defect_class,
                    code=exc.code,
                    reason=exc.message,
                )
            )
        else:
            included.append(case)
    return included, excluded


def split_by_subject(
    cases: Sequence[SkullCase], fractions: SplitFractions, seed: int
) -> dict[str, SplitName]:
    """Assign whole subjects to splits.

    Subjects are ordered by a seeded hash of their id rather than shuffled, so adding or
    excluding one subject moves at most the subjects at the split boundaries.
    """
    subjects = sorted({c.subject_id for c in cases})
    order = sorted(subjects, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    n = len(order)
    n_train = int(round(fractions.train * n))
    n_val = min(int(round(fractions.val * n)), n - n_train)
    subject_split: dict[str, SplitName] = {}
    for rank, subject in enumerate(order):
        subject_split[subject] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return {c.case_id: subject_split[c.subject_id] for c in cases}


def write_split_csv(path: Path, cases: Sequence[SkullCase], splits: dict[str, SplitName]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "defect_class", "split"])
        for case in sorted(cases, key=lambda c: c.case_id):
            writer.writerow([case.case_id, case.defect_class, splits[case.case_id]])


def read_split_csv(path: Path) -> dict[str, SplitName]:
    """case_id -> split from a ``split.csv``."""
    allowed: dict[str, SplitName] = {"train": "train", "val": "val", "test": "test"}
    with path.open(newline="") as handle:
        return {row["case_id"]: allowed[row["split"]] for row in csv.DictReader(handle)}


def load_split_cases(
    root: Path, split_csv: Path, split: SplitName, layout: DatasetLayout | str = DatasetLayout.SKULLBREAK
) -> list[SkullCase]:
    """The cases of one split, as written by ``prepare_dataset``."""
    splits = read_split_csv(split_csv)
    by_id = {c.case_id: c for c in discover_cases(root, layout)}
    missing = sorted(cid for cid in splits if cid not in by_id)
    if missing:
        raise DataError(
            DataErrorCode.UNKNOWN_CASE, f"{split_csv} lists cases not under {root}: {missing[:5]}"
        )
    return [by_id[cid] for cid, s in sorted(splits.items()) if s == split]


def _summarise(path: Path, reader: VolumeReader) -> _VolumeSummary:
    volume = reader(path)
    data = np.asarray(volume.data)
    if data.size == 0:
        raise DataError(DataErrorCode.EMPTY_MASK, f"{path}: zero-sized array {data.shape}")
    nonzero = int(np.count_nonzero(data))
    if nonzero != int(np.count_nonzero(data == 1)):
        raise DataError(DataErrorCode.NOT_BINARY, f"{path}: values other than 0 and 1")
    return _VolumeSummary(shape=volume.shape, spacing=volume.spacing, nonzero=nonzero)


def _check_case(
    case: SkullCase,
    summary: Callable[[Path], _VolumeSummary],
    expected_shape: tuple[int, int, int] | None,
) -> None:
    complete = summary(case.complete_path)
    defective = summary(case.defective_path)
    implant = summary(case.implant_path)
    for name, s in (("complete skull", complete), ("defective skull", defective)):
        if s.nonzero == 0:
            raise DataError(DataErrorCode.EMPTY_MASK, f"{name} of {case.case_id} is empty")
    if implant.nonzero == 0:
        raise DataError(DataErrorCode.EMPTY_IMPLANT, f"implant of {case.case_id} is empty")
    shapes = {"complete": complete.shape, "defective": defective.shape, "implant": implant.shape}
    if len(set(shapes.values())) != 1:
        raise DataError(DataErrorCode.SHAPE_MISMATCH, f"{case.case_id}: shapes differ {shapes}")
    if expected_shape is not None and complete.shape != tuple(expected_shape):
        raise DataError(
            DataErrorCode.UNEXPECTED_SHAPE,
            f"{case.case_id}: shape {complete.shape}, expected {expected_shape}",
        )
    spacings = [complete.spacing, defective.spacing, implant.spacing]
    if not all(np.allclose(s, spacings[0], rtol=_SPACING_RTOL) for s in spacings):
        raise DataError(DataErrorCode.SPACING_MISMATCH, f"{case.case_id}: spacings differ {spacings}")
