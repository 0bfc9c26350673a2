"""Shared synthetic SkullBreak data for the data tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hounsfield.data.cases import SkullCase
from hounsfield.data.synthetic_skulls import generate_skullbreak


@pytest.fixture(scope="session")
def skullbreak_64(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SkullCase]]:
    """Two synthetic subjects at 64^3 (3.2 mm spacing) in the SkullBreak layout."""
    root = tmp_path_factory.mktemp("skullbreak64")
    return root, generate_skullbreak(root, n_subjects=2, shape=(64, 64, 64), seed=7)
