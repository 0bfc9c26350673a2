"""Tiny untrained PCDiff and voxelization checkpoints and synthetic skulls for the pipeline tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from hounsfield.data.synthetic_skulls import generate_skullbreak
from hounsfield.models.pvcnn2 import PVCNN2
from hounsfield.models.voxelization import Encode2Points
from hounsfield.recipes.pcdiff.recipe import RECIPE as PCDIFF
from hounsfield.recipes.runner import assemble_config
from hounsfield.recipes.voxelization.recipe import RECIPE as VOXELIZATION
from hounsfield.sdk import Run

DIFFUSION_CONFIG: dict[str, Any] = {"preset": "cpu-tiny"}
VOXELIZER_CONFIG: dict[str, Any] = {"preset": "cpu-tiny"}


@dataclass(frozen=True)
class TinyModels:
    diffusion_dir: Path
    voxelizer_dir: Path
    data_root: Path


def _save(output: Path, state: dict[str, Any]) -> Path:
    run = Run.from_env(output_dir=output)
    return run.save_checkpoint(state, 1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyModels]:
    base = tmp_path_factory.mktemp("tiny-models")
    torch.manual_seed(0)
    diffusion = PVCNN2(assemble_config(PCDIFF, DIFFUSION_CONFIG, {}, {}).model)
    voxelizer = Encode2Points(assemble_config(VOXELIZATION, VOXELIZER_CONFIG, {}, {}).model)
    diffusion_dir = _save(base / "pcdiff", {"model": diffusion.state_dict()})
    voxelizer_dir = _save(base / "voxelization", {"model": voxelizer.state_dict()})
    data_root = base / "skulls"
    generate_skullbreak(data_root, 2, shape=(32, 32, 32), seed=0)
    yield TinyModels(diffusion_dir, voxelizer_dir, data_root)
