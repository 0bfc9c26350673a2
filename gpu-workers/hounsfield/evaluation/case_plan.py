"""Which cases an evaluation scores: listed once, by the first shard, from the worker's dataset.

The evaluation service cannot read worker files, so the first shard to start reads the split and
sends the list; the service keeps the first list it gets (later ones are answered with it).
"""

from __future__ import annotations

from pathlib import Path

from hounsfield.contracts.models import EvaluationDataset
from hounsfield.data.cases import SkullCase, discover_cases
from hounsfield.data.prepare import load_split_cases


def resolve_dataset_path(path: str, data_root: Path) -> Path:
    """An absolute path as is; a relative one inside the dataset root the worker resolved."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else data_root / candidate


def planned_cases(dataset: EvaluationDataset, data_root: Path) -> list[SkullCase]:
    """The cases of ``dataset.split`` (all discovered cases without a split CSV), narrowed to
    ``dataset.cases`` and cut to the first ``maxCases``, in case-id order."""
    if dataset.splitCsv is not None:
        cases = load_split_cases(data_root, resolve_dataset_path(dataset.splitCsv, data_root), dataset.split)
    else:
        cases = discover_cases(data_root)
    if dataset.cases is not None:
        wanted = {case.root for case in dataset.cases}
        cases = [case for case in cases if case.case_id in wanted]
    cases = sorted(cases, key=lambda case: case.case_id)
    return cases[: dataset.maxCases] if dataset.maxCases is not None else cases
