"""The implant pipeline of one case on tiny untrained networks: defined metrics, reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import DIFFUSION_CONFIG, VOXELIZER_CONFIG, TinyModels

from hounsfield.data.cases import discover_cases
from hounsfield.evaluation.metrics import dice
from hounsfield.evaluation.pipeline import (
    CASE_METRICS,
    ImplantNetworks,
    evaluate_case,
    load_case,
    sampler_config,
)
from hounsfield.evaluation.postprocess import PostprocessOptions


def _networks(models: TinyModels) -> ImplantNetworks:
    return ImplantNetworks.load(
        models.diffusion_dir, DIFFUSION_CONFIG, models.voxelizer_dir, VOXELIZER_CONFIG
    )


def test_a_case_is_scored_with_every_metric_and_the_same_seed_gives_the_same_implant(
    tiny_models: TinyModels, tmp_path: Path
) -> None:
    networks = _networks(tiny_models)
    case = discover_cases(tiny_models.data_root)[0]
    sampler = sampler_config("ddim", 2, 0.0, None, 3.0, 2)
    first = evaluate_case(networks, load_case(case, networks, tmp_path, 7), sampler, PostprocessOptions(), 7)
    again = evaluate_case(networks, load_case(case, networks, tmp_path, 7), sampler, PostprocessOptions(), 7)

    assert set(first.metrics) == set(CASE_METRICS)
    assert all(np.isfinite(value) for value in first.metrics.values())
    assert 0.0 <= first.metrics["DSC"] <= 1.0
    assert first.metrics == again.metrics
    assert np.array_equal(first.implant, again.implant)
    assert first.implant_points_vox.shape[0] == 2  # one point cloud per ensemble member
    assert first.implant.shape == load_case(case, networks, tmp_path, 7).truth.shape


def test_the_reported_dsc_is_the_dice_of_the_stored_implant(tiny_models: TinyModels, tmp_path: Path) -> None:
    networks = _networks(tiny_models)
    case = discover_cases(tiny_models.data_root)[1]
    inputs = load_case(case, networks, tmp_path, 3)
    outcome = evaluate_case(
        networks, inputs, sampler_config("ddim", 1, 0.0, None, 0.0, 1), PostprocessOptions(), 3
    )
    assert outcome.metrics["DSC"] == dice(outcome.implant, inputs.truth)
