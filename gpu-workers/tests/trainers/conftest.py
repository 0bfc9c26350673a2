"""Synthetic skulls shared by the trainer tests (two subjects at 64^3: ten cases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hounsfield.data.cases import SkullCase
from hounsfield.data.synthetic_skulls import generate_skullbreak


@pytest.fixture(scope="session")
def skull_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("skulls")
    generate_skullbreak(root, n_subjects=2, shape=(64, 64, 64), seed=3)
    return root


@pytest.fixture(scope="session")
def skull_cases(skull_root: Path) -> list[SkullCase]:
    from hounsfield.data.cases import discover_cases

    return discover_cases(skull_root)
