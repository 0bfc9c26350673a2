"""Preflight: data paths stay inside the data roots, disk and GPU checks, clear reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from hounsfield.contracts.models import GpuInfo
from hounsfield.worker.preflight import (
    PreflightError,
    check_disk,
    check_gpus_free,
    check_resume_checkpoint,
    resolve_data_path,
)


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "datasets", tmp_path / "scratch"
    (first / "skullbreak" / "complete_skull").mkdir(parents=True)
    (second / "skullfix").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    return [first, second]


def test_relative_paths_resolve_under_any_root(roots: list[Path]) -> None:
    assert resolve_data_path("skullbreak", roots) == (roots[0] / "skullbreak").resolve()
    assert resolve_data_path("skullfix", roots) == (roots[1] / "skullfix").resolve()
    absolute = str(roots[0] / "skullbreak" / "complete_skull")
    assert resolve_data_path(absolute, roots) == Path(absolute).resolve()


@pytest.mark.parametrize("raw", ["../secret", "skullbreak/../../secret", "/etc", "../../etc"])
def test_paths_outside_the_roots_are_refused(roots: list[Path], raw: str) -> None:
    with pytest.raises(PreflightError, match="outside the worker's data roots"):
        resolve_data_path(raw, roots)


def test_a_symlink_that_escapes_a_root_is_refused(roots: list[Path], tmp_path: Path) -> None:
    (roots[0] / "sneaky").symlink_to(tmp_path / "secret")
    with pytest.raises(PreflightError, match="outside the worker's data roots"):
        resolve_data_path("sneaky", roots)


def test_missing_paths_and_missing_roots_say_what_to_do(roots: list[Path]) -> None:
    with pytest.raises(PreflightError, match="does not exist under the worker's data roots"):
        resolve_data_path("skulbreak", roots)
    with pytest.raises(PreflightError, match="set HOUNSFIELD_DATA_ROOTS"):
        resolve_data_path("skullbreak", [])
    with pytest.raises(PreflightError, match="NUL"):
        resolve_data_path("a\x00b", roots)


def test_disk_threshold(tmp_path: Path) -> None:
    check_disk(tmp_path / "not" / "yet" / "created", 0.0)
    with pytest.raises(PreflightError, match="HOUNSFIELD_MIN_FREE_DISK_GIB"):
        check_disk(tmp_path, 10**9)


def _gpu(index: int, foreign: bool) -> GpuInfo:
    return GpuInfo(
        index=index,
        uuid=f"GPU-{index}",
        name="NVIDIA H100",
        memoryTotalBytes=80 * 2**30,
        memoryUsedBytes=0,
        utilizationPercent=0,
        temperatureCelsius=30,
        foreignProcesses=foreign,
    )


def test_assigned_gpus_must_exist_and_be_free_of_foreign_processes() -> None:
    gpus = [_gpu(0, False), _gpu(1, True)]
    check_gpus_free({0}, gpus)
    with pytest.raises(PreflightError, match=r"GPU\(s\) \[1\] are busy"):
        check_gpus_free({0, 1}, gpus)
    with pytest.raises(PreflightError, match=r"GPU\(s\) \[5\] do not exist"):
        check_gpus_free({5}, gpus)


def test_a_local_resume_checkpoint_must_exist(tmp_path: Path) -> None:
    check_resume_checkpoint(None)
    check_resume_checkpoint(str(tmp_path))
    with pytest.raises(PreflightError, match="does not exist"):
        check_resume_checkpoint(str(tmp_path / "gone"))
