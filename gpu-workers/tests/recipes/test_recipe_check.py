"""The config check a worker runs on its CPU before a recipe job's GPUs are leased."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import save_file

from hounsfield.recipes.check import check_job, checks_before_lease
from hounsfield.recipes.runner import EXIT_CANNOT_TRAIN
from hounsfield.recipes.slice_interp.vae import FrozenVAE
from hounsfield.trainers.errors import TrainerError

GOOD_KEY = "encoder.blocks.1.conv1.conv.conv.weight"
BAD_KEY = "encoder.blocks.1.conv1.conv.conv.weihgt"


def misspelt_vae(path: Path) -> Path:
    """A cpu-tiny VAE weights file with one key misspelt."""
    state = FrozenVAE("cpu-tiny", seed=3).module.state_dict()
    state[BAD_KEY] = state.pop(GOOD_KEY)
    save_file(state, str(path))
    return path


def test_only_recipes_with_a_preflight_are_checked_before_the_lease() -> None:
    assert checks_before_lease("slice_interp")
    for kind in ("pcdiff", "voxelization", "vqgan3d", "topo_unet", "script"):
        assert not checks_before_lease(kind)


def test_a_wrong_vae_key_fails_the_check_naming_both_keys(tmp_path: Path) -> None:
    weights = misspelt_vae(tmp_path / "vae.safetensors")
    config = {"preset": "cpu-tiny", "vae": {"weights": str(weights)}}
    with pytest.raises(TrainerError) as error:
        check_job("slice_interp", config, {"globalBatch": 2, "baseLr": 1e-3, "maxSteps": 2})
    assert "vae.weights" in error.value.message
    assert f"missing 1: {GOOD_KEY}" in error.value.message
    assert f"unexpected 1: {BAD_KEY}" in error.value.message


def test_a_good_config_passes_and_a_config_error_names_the_field(tmp_path: Path) -> None:
    check_job("slice_interp", {"preset": "cpu-tiny"}, {"globalBatch": 2, "baseLr": 1e-3, "maxSteps": 2})
    weights = tmp_path / "vae.safetensors"
    save_file(FrozenVAE("cpu-tiny", seed=3).module.state_dict(), str(weights))
    check_job("slice_interp", {"preset": "cpu-tiny", "vae": {"weights": str(weights)}}, {"maxSteps": 2})
    with pytest.raises(TrainerError, match="vae.weights"):
        check_job("slice_interp", {"preset": "cpu-tiny", "vae": {"weights": str(tmp_path / "none")}}, {})
    with pytest.raises(TrainerError, match=r"unknown key\(s\) \['vea'\]"):
        check_job("slice_interp", {"preset": "cpu-tiny", "vea": {}}, {})


def test_the_command_exits_2_with_the_reason_as_its_last_line(tmp_path: Path) -> None:
    weights = misspelt_vae(tmp_path / "vae.safetensors")
    request = tmp_path / "check.json"
    body = {"kind": "slice_interp", "config": {"preset": "cpu-tiny", "vae": {"weights": str(weights)}}}
    extra = {"hyperparameters": {"maxSteps": 2}, "checkpoint": {"keepLast": 3}}
    request.write_text(json.dumps({**body, **extra}))
    done = subprocess.run(
        [sys.executable, "-m", "hounsfield.recipes.check", str(request)], capture_output=True, text=True
    )
    assert done.returncode == EXIT_CANNOT_TRAIN
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("config check failed: vae.weights:") and BAD_KEY in last
    request.write_text(json.dumps({"kind": "slice_interp", "config": {"preset": "cpu-tiny"}}))
    done = subprocess.run(
        [sys.executable, "-m", "hounsfield.recipes.check", str(request)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
