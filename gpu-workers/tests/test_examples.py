"""Every example spec in examples/ is valid as written (the README points people at them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hounsfield.contracts.models import TrainingJobSpec
from hounsfield.evaluation.families import parse_evaluation_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("path", sorted((EXAMPLES / "jobs").glob("*.*")), ids=lambda p: p.name)
def test_job_examples_are_valid_job_specs(path: Path) -> None:
    TrainingJobSpec.model_validate(load(path))


@pytest.mark.parametrize("path", sorted((EXAMPLES / "evaluations").glob("*.*")), ids=lambda p: p.name)
def test_evaluation_examples_are_valid_evaluation_specs(path: Path) -> None:
    parse_evaluation_spec(load(path))
