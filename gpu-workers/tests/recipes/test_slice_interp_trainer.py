"""slice_interp on CPU (cpu-tiny, phantoms): the frozen VAE stays bit-identical through training, the
optimiser holds exactly the denoiser's trainable parameters, checkpoints hold no VAE tensor and
record its hash, a wrong VAE file fails before anything is built naming the key, the checkpoint
interpolates through ``load_for_inference``, and the trainer runs under torchrun with 2 processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from harness.trainer_context import managed_environ
from safetensors.torch import load_file, save_file

from hounsfield.checkpoints.layout import step_dir_name
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.checkpoints.weights import file_sha256
from hounsfield.recipes.runner import assemble_config, build_parts, loop_settings, resolved_for, run_recipe
from hounsfield.recipes.slice_interp.inference import load_for_inference, trilinear_thin
from hounsfield.recipes.slice_interp.provenance import META_VAE_PRETRAINED, META_VAE_SHA256
from hounsfield.recipes.slice_interp.recipe import RECIPE, SliceInterpValidation
from hounsfield.recipes.slice_interp.vae import FrozenVAE
from hounsfield.sdk import Run
from hounsfield.trainers.ddp import init_distributed
from hounsfield.trainers.loop import TrainingLoop

STEPS = 4
CONFIG: dict[str, Any] = {
    "preset": "cpu-tiny",
    "synthetic": {"subjects": 4, "shape": 32},
    "pairs": {"pairsPerCase": 2},
    "diffusion": {"ddimSteps": 3},
    "logEvery": 2,
    "checkpointEvery": 2,
    "validation": {"everySteps": 2, "maxCases": 1},
}
VAL_METRICS = (
    "val.psnr",
    "val.ssim",
    "val.psnr_trilinear",
    "val.ssim_trilinear",
    "val.latent_mse",
    "val.latent_mse_trilinear",
)


@pytest.fixture(scope="module")
def vae_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cpu-tiny VAE weights file (seed 7), standing in for a pretrained MAISI file."""
    path = tmp_path_factory.mktemp("vae") / "vae.safetensors"
    save_file(FrozenVAE("cpu-tiny", seed=7).module.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, vae_file: Path) -> dict[str, Any]:
    """One in-process training run through the real loop, keeping its parts for inspection."""
    out = tmp_path_factory.mktemp("si-run")
    os.environ["HOUNSFIELD_REPORT_FILE"] = str(out / "report.jsonl")
    try:
        run = Run.from_env(output_dir=out / "run")
        overrides = {**CONFIG, "vae": {"weights": str(vae_file)}, "steps": STEPS}
        config = assemble_config(RECIPE, overrides, {}, {})
        resolved = resolved_for(run, config)
        context = init_distributed(0, 1, 0)
        parts = build_parts(RECIPE, config, run, resolved, context)
        loop = TrainingLoop(
            run=run, context=context, parts=parts, resolved=resolved, settings=loop_settings(config, STEPS)
        )
        result = loop.run()
        run.close()
    finally:
        del os.environ["HOUNSFIELD_REPORT_FILE"]
    return {"out": out, "parts": parts, "loop": loop, "result": result}


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]


def test_the_vae_is_bit_identical_to_the_loaded_file_after_training(
    trained: dict[str, Any], vae_file: Path
) -> None:
    validation = trained["parts"].validate
    assert isinstance(validation, SliceInterpValidation)
    vae = validation.vae
    assert trained["result"].steps_done == STEPS
    loaded = load_file(str(vae_file))
    current = vae.module.state_dict()
    assert sorted(current) == sorted(loaded)
    for key, tensor in loaded.items():
        assert torch.equal(current[key].cpu(), tensor), key
    assert not vae.module.training and not any(p.requires_grad for p in vae.module.parameters())
    assert vae.pretrained and vae.weights_hash == file_sha256(vae_file)


def test_the_optimiser_holds_exactly_the_denoisers_trainable_parameters(trained: dict[str, Any]) -> None:
    model = trained["parts"].model
    optimised = [p for group in trained["loop"].optimizer.param_groups for p in group["params"]]
    expected = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in optimised} == {id(p) for p in expected}
    assert len(optimised) == len(expected)
    vae_ids = {id(p) for p in trained["parts"].validate.vae.module.parameters()}
    assert not vae_ids & {id(p) for p in optimised}


def test_checkpoints_hold_the_denoiser_only_and_record_the_vae_hash(
    trained: dict[str, Any], vae_file: Path
) -> None:
    checkpoint = trained["out"] / "run" / "checkpoints" / step_dir_name(STEPS)
    state, meta = read_checkpoint(checkpoint)
    denoiser_keys = set(trained["parts"].model.state_dict())
    vae_keys = set(trained["parts"].validate.vae.module.state_dict())
    saved = set(load_file(str(checkpoint / "model.safetensors")))
    assert saved == denoiser_keys and not saved & vae_keys
    assert all(key.startswith("unet.") for key in saved)
    trainable = sum(1 for p in trained["parts"].model.parameters() if p.requires_grad)
    assert len(state["optimizer"]["state"]) == trainable  # no optimiser state for a VAE tensor
    provenance = meta.provenance or {}
    assert provenance[META_VAE_SHA256] == file_sha256(vae_file)
    assert provenance[META_VAE_PRETRAINED] == "true"
    assert float(provenance["latentScaleFactor"]) > 0
    for name in VAL_METRICS:
        assert math.isfinite(meta.metrics[name]), name
    assert 0 < meta.metrics["val.psnr_trilinear"] < 60 and -1 <= meta.metrics["val.ssim"] <= 1


def test_parameter_counts_are_reported_at_start(trained: dict[str, Any]) -> None:
    notices = [r for r in _records(trained["out"]) if r["kind"] == "notice"]
    counts = next(n for n in notices if n["notice"] == "parameters")["details"]
    model = trained["parts"].model
    assert counts["denoiserTrainable"] == sum(p.numel() for p in model.parameters())
    vae = trained["parts"].validate.vae.module
    assert counts["vaeFrozen"] == sum(p.numel() for p in vae.parameters()) and counts["vaeTrainable"] == 0
    assert not any(n["notice"] == "frozen_weights" for n in notices)  # a file was given


def test_validation_runs_every_n_steps_and_at_the_end(trained: dict[str, Any]) -> None:
    steps = [
        r["step"] for r in _records(trained["out"]) if r["kind"] == "progress" and "val.psnr" in r["metrics"]
    ]
    assert steps == [2, 4]


def test_the_checkpoint_interpolates_and_refuses_another_vae(
    trained: dict[str, Any], vae_file: Path, tmp_path: Path
) -> None:
    checkpoint = trained["out"] / "run" / "checkpoints" / step_dir_name(STEPS)
    model = load_for_inference(checkpoint, vae_file, "cpu")
    thick = torch.rand(8, 32, 32)
    thin = model.interpolate(thick, steps=2, seed=3)
    assert thin.shape == (40, 32, 32) and float(thin.min()) >= 0 and float(thin.max()) <= 1
    assert torch.equal(thin, model.interpolate(thick, steps=2, seed=3))  # seeded: reproducible
    # the baseline places the thick slices as this checkpoint's training made them
    assert model.mode == "average"
    expected = trilinear_thin(thick.permute(1, 2, 0), 5, "average").permute(2, 0, 1)
    assert torch.equal(model.trilinear(thick), expected)
    assert model.interpolate(torch.rand(7, 30, 30), steps=1).shape == (35, 30, 30)
    with pytest.raises(ValueError, match="give vae_weights"):
        load_for_inference(checkpoint, None, "cpu")
    other = tmp_path / "other.safetensors"
    save_file(FrozenVAE("cpu-tiny", seed=8).module.state_dict(), str(other))
    with pytest.raises(ValueError, match=file_sha256(vae_file)):
        load_for_inference(checkpoint, other, "cpu")


def test_a_vae_file_with_a_wrong_key_fails_before_anything_is_built(
    vae_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights = load_file(str(vae_file))
    renamed = "encoder.blocks.1.conv1.conv.conv.weight"
    assert renamed in weights
    weights["encoder.blocks.1.conv1.conv.conv.weihgt"] = weights.pop(renamed)
    wrong = tmp_path / "wrong.safetensors"
    save_file(weights, str(wrong))
    out = tmp_path / "run"
    code = run_recipe(
        RECIPE,
        [
            "--preset",
            "cpu-tiny",
            "--output-dir",
            str(out),
            "--config",
            json.dumps({"vae": {"weights": str(wrong)}}),
        ],
    )
    assert code == 2
    log = caplog.text
    assert "vae.weights" in log and renamed in log and "encoder.blocks.1.conv1.conv.conv.weihgt" in log
    # failed in the recipe's preflight: no phantoms, no prepared data, no run config were written
    assert not (out / "ct-phantoms").exists() and not (out / "config.json").exists()


def test_random_vae_weights_are_said_in_events_and_meta(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    os.environ["HOUNSFIELD_REPORT_FILE"] = str(report)
    try:
        code = run_recipe(
            RECIPE,
            ["--output-dir", str(tmp_path / "run"), "--steps", "1", "--config", json.dumps(CONFIG)],
        )
    finally:
        del os.environ["HOUNSFIELD_REPORT_FILE"]
    assert code == 0
    notices = [r for r in map(json.loads, report.read_text().splitlines()) if r["kind"] == "notice"]
    warning = next(n for n in notices if n["notice"] == "frozen_weights")
    assert warning["details"]["vae"]["pretrained"] is False
    _, meta = read_checkpoint(tmp_path / "run" / "checkpoints" / step_dir_name(1))
    assert (meta.provenance or {})[META_VAE_PRETRAINED] == "false"
    # a random-weights checkpoint rebuilds the same VAE from its recorded seed
    model = load_for_inference(tmp_path / "run" / "checkpoints" / step_dir_name(1), None, "cpu")
    assert model.vae.weights_hash == (meta.provenance or {})[META_VAE_SHA256]


def test_trains_under_torchrun_with_two_cpu_processes(tmp_path: Path) -> None:
    resolved = {
        "worldSize": 2,
        "globalBatch": 4,
        "perDeviceBatch": 2,
        "gradAccumSteps": 1,
        "referenceBatch": 4,
        "baseLr": 1e-3,
        "lrScaling": "linear",
        "lr": 1e-3,
    }
    env = {
        "OMP_NUM_THREADS": "1",
        **managed_environ(
            tmp_path,
            inherit=True,
            job_id="job-si",
            kind="slice_interp",
            resolved=resolved,
            config=CONFIG,
            hyperparameters={"globalBatch": 4, "baseLr": 1e-3, "maxSteps": 2},
            checkpoint={"everySteps": 2},
        ),
    }
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        + ["-m", "hounsfield.recipes.slice_interp"],
        env=env,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, meta = read_checkpoint(tmp_path / "output" / "checkpoints" / step_dir_name(2))
    assert meta.worldSize == 2
    for name in VAL_METRICS:
        assert math.isfinite(meta.metrics[name]), name
