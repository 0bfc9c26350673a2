"""Presets carry the published numbers; overrides merge, validate and refuse typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from hounsfield.data.cases import DatasetLayout
from hounsfield.recipes.pcdiff.recipe import RECIPE as PCDIFF
from hounsfield.recipes.runner import argument_parser, assemble_config, command_line_overrides, total_steps
from hounsfield.recipes.skull_cases import dataset_root
from hounsfield.recipes.voxelization.recipe import RECIPE as VOXELIZATION
from hounsfield.trainers.config_base import apply_overrides
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

pcdiff_preset = PCDIFF.preset
voxelization_train_preset = VOXELIZATION.preset


def test_paper_presets_carry_the_published_hyperparameters() -> None:
    for name, layout in (
        ("paper-skullbreak", DatasetLayout.SKULLBREAK),
        ("paper-skullfix", DatasetLayout.SKULLFIX),
    ):
        diffusion = pcdiff_preset(name)
        assert diffusion.layout is layout
        assert (diffusion.lr, diffusion.optimizer.betas, diffusion.global_batch, diffusion.epochs) == (
            2e-4,
            (0.5, 0.999),
            8,
            15_000,
        )
        assert (diffusion.points.n_defective, diffusion.points.n_implant) == (27_648, 3_072)
        schedule = diffusion.schedule
        assert (schedule.num_timesteps, schedule.beta_start, schedule.beta_end) == (1000, 1e-4, 0.02)
        assert diffusion.model.width_multiplier == 1.0 and diffusion.ema_decay == 0.9999
        voxelizer = voxelization_train_preset(name)
        assert (voxelizer.lr, voxelizer.global_batch, voxelizer.model.psr_resolution) == (5e-4, 2, 512)
        assert voxelizer.model.num_points == 30_720
    tiny = pcdiff_preset("cpu-tiny")
    assert tiny.points.n_defective + tiny.points.n_implant == 2_048 and tiny.model.width_multiplier == 0.25
    assert 32 <= voxelization_train_preset("cpu-tiny").model.psr_resolution <= 64
    with pytest.raises(TrainerError) as error:
        pcdiff_preset("paper")
    assert error.value.code is TrainerErrorCode.UNKNOWN_PRESET


def test_overrides_merge_nested_keys_in_either_case_and_refuse_typos() -> None:
    base = pcdiff_preset("cpu-tiny")
    merged = apply_overrides(
        base, {"globalBatch": 16, "ema_decay": 0.99, "model": {"dropout": 0.0}, "synthetic": {"subjects": 3}}
    )
    assert (merged.global_batch, merged.ema_decay, merged.model.dropout) == (16, 0.99, 0.0)
    assert merged.model.sa_stages == base.model.sa_stages and merged.synthetic is not None
    assert merged.synthetic.subjects == 3 and merged.synthetic.shape == 64
    with pytest.raises(TrainerError, match="globalBatchSize"):
        apply_overrides(base, {"globalBatchSize": 16})
    with pytest.raises(TrainerError, match="dropuot"):
        apply_overrides(base, {"model": {"dropuot": 0.0}})
    with pytest.raises(TrainerError):
        apply_overrides(base, {"lr": -1.0})


def test_job_config_then_platform_then_command_line() -> None:
    args = argument_parser(PCDIFF).parse_args(
        ["--steps", "7", "--synthetic", "4", "--config", '{"logEvery": 3}']
    )
    config = assemble_config(
        PCDIFF,
        {"preset": "cpu-tiny", "dataRoot": "/nowhere", "steps": 50, "seed": 1},
        {"maxSteps": 30, "seed": 9},
        command_line_overrides(args),
    )
    assert (config.steps, config.seed, config.log_every, config.data_root) == (7, 9, 3, Path("/nowhere"))
    assert config.synthetic is not None and config.synthetic.subjects == 4
    from_preflight = assemble_config(PCDIFF, {"dataRoot": "/mine"}, {}, {}, data_root="/data/SkullBreak")
    assert from_preflight.data_root == Path("/data/SkullBreak")
    every = {"checkpointEvery": 100}
    assert assemble_config(PCDIFF, every, {}, {}, checkpoint_policy={"everySteps": 25}).checkpoint_every == 25
    assert assemble_config(PCDIFF, every, {}, {}, checkpoint_policy={"keepLast": 3}).checkpoint_every == 100
    by_epochs = assemble_config(VOXELIZATION, {"epochs": 2}, {}, {})
    assert by_epochs.steps is None and total_steps(by_epochs, dataset_size=15, global_batch=2) == 15


def test_synthetic_skulls_only_for_cpu_tiny_and_only_without_data(tmp_path: Path) -> None:
    tiny = apply_overrides(pcdiff_preset("cpu-tiny"), {"synthetic": {"subjects": 2}})
    assert dataset_root(tiny, tmp_path) == tmp_path / "synthetic-skulls"
    assert dataset_root(apply_overrides(tiny, {"dataRoot": str(tmp_path)}), tmp_path / "out") == tmp_path
    paper = apply_overrides(pcdiff_preset("paper-skullbreak"), {"synthetic": {"subjects": 2}})
    with pytest.raises(TrainerError, match="real dataset"):
        dataset_root(paper, tmp_path)
    with pytest.raises(TrainerError) as error:
        dataset_root(pcdiff_preset("cpu-tiny"), tmp_path)
    assert error.value.code is TrainerErrorCode.MISSING_DATA
