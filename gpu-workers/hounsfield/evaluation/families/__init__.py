"""Per-family case evaluators of the evaluation shards: one evaluation kind, one module.

A shard (``hounsfield.evaluation.shard``) downloads the evaluation's pinned checkpoints, then asks
the registry for the evaluator of the spec's ``kind``, which loads the weights once and scores one
case per queue message. Adding a family is its module plus one line in :data:`EVALUATORS` (and
one member of the contracts' spec union).

An evaluator:

- ``cases()`` lists the cases of the spec's dataset (id in the identifier alphabet, group);
- ``options()`` states the family options that ran (resolved from the checkpoint's config),
  which the service stores with the plan and prints in the report;
- ``evaluate(case_id, index, scratch)`` scores one case: metrics, and the files it wrote into
  ``scratch`` (``preview.png`` for every family), which the shard uploads as case artefacts.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from pydantic import RootModel, TypeAdapter

from hounsfield.contracts.models import (
    EvaluationShardContext,
    PcdiffEvaluationSpec,
    SliceInterpEvaluationSpec,
    TopoUnetEvaluationSpec,
    Vqgan3dEvaluationSpec,
)

#: Any evaluation spec (a spec without ``kind`` is a PCDiff one).
EvaluationSpec = (
    PcdiffEvaluationSpec | Vqgan3dEvaluationSpec | TopoUnetEvaluationSpec | SliceInterpEvaluationSpec
)
_SPEC = TypeAdapter[EvaluationSpec](EvaluationSpec)

#: Evaluation kind -> module defining ``load(context, checkpoints, data_root, work_dir)``:
#: ``checkpoints`` maps each role to its downloaded directory, ``data_root`` is the dataset
#: directory the worker resolved from ``dataset.root`` (the shard job's ``data.root``).
EVALUATORS: Mapping[str, str] = {
    "pcdiff": "hounsfield.evaluation.families.pcdiff",
    "vqgan3d": "hounsfield.evaluation.families.vqgan3d",
    "topo_unet": "hounsfield.evaluation.families.topo_unet",
    "slice_interp": "hounsfield.evaluation.families.slice_interp",
}

OptionValue = str | float | int | bool | list[float] | list[int]

CaseT = TypeVar("CaseT")


def parse_evaluation_spec(value: object) -> EvaluationSpec:
    return _SPEC.validate_python(value)


@dataclass(frozen=True)
class PlannedCase:
    case_id: str
    group: str


@dataclass(frozen=True)
class CaseScore:
    metrics: dict[str, float]
    files: list[Path]
    seconds: float
    fallback: bool = False


class CaseEvaluator(Protocol):
    def cases(self) -> list[PlannedCase]: ...

    def options(self) -> dict[str, OptionValue]: ...

    def evaluate(self, case_id: str, index: int, scratch: Path) -> CaseScore: ...


class Loader(Protocol):
    def __call__(
        self,
        context: EvaluationShardContext,
        checkpoints: Mapping[str, Path],
        data_root: Path,
        work_dir: Path,
    ) -> CaseEvaluator: ...


class UnknownEvaluationKindError(LookupError):
    """No evaluator is registered for an evaluation kind."""


def evaluator_loader(kind: str) -> Loader:
    """The ``load`` function of ``kind``'s module (imported on first use)."""
    module = EVALUATORS.get(kind)
    if module is None:
        raise UnknownEvaluationKindError(
            f"no evaluator for evaluation kind {kind!r}; known: {', '.join(sorted(EVALUATORS))}"
        )
    loader: Loader = importlib.import_module(module).load
    return loader


_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_-]")


def case_identifier(name: str) -> str:
    """A dataset's case name in the identifier alphabet of case ids (``P000/ct_0`` -> ``P000_ct_0``)."""
    identifier = _NOT_IDENTIFIER.sub("_", name).lstrip("_-")[:64]
    if not identifier:
        raise ValueError(f"case {name!r} has no letter or digit to name it by")
    return identifier


def unique_identifiers(names: list[str]) -> dict[str, str]:
    """Case id -> dataset name, refusing two names that map to one id."""
    out: dict[str, str] = {}
    for name in names:
        identifier = case_identifier(name)
        if identifier in out:
            raise ValueError(f"cases {out[identifier]!r} and {name!r} both map to case id {identifier!r}")
        out[identifier] = name
    return out


def narrowed(ids: list[str], cases: list[str] | None, max_cases: int | None) -> list[str]:
    """The ids in sorted order, narrowed to ``cases`` and cut to the first ``max_cases``."""
    chosen = sorted(ids)
    if cases is not None:
        wanted = set(cases)
        chosen = [i for i in chosen if i in wanted]
    return chosen[:max_cases] if max_cases is not None else chosen


def select_cases(by_name: Mapping[str, CaseT], dataset: Any) -> dict[str, CaseT]:
    """The dataset's cases by case id: named by ``unique_identifiers``, narrowed to the spec's
    ``dataset.cases`` and cut to its ``dataset.maxCases`` (in case-id order)."""
    ids = unique_identifiers(list(by_name))
    cases = [c.root for c in dataset.cases] if dataset.cases else None
    return {i: by_name[ids[i]] for i in narrowed(list(ids), cases, dataset.maxCases)}


def numbers(values: Sequence[Any]) -> list[float]:
    """A spec's tuple of numbers as plain floats (the generated models wrap constrained items)."""
    return [float(v.root if isinstance(v, RootModel) else v) for v in values]


def torch_device(device: str) -> torch.device:
    """``gpu``: the shard's GPU (CUDA when present, else the CPU); ``cpu``: the CPU."""
    return torch.device("cuda" if device == "gpu" and torch.cuda.is_available() else "cpu")
