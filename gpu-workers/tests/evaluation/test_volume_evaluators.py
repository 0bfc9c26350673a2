"""The evaluation shards' vqgan3d and topo_unet case evaluators on tiny trained checkpoints.

Each evaluator loads a real cpu-tiny checkpoint once, lists the cases of its split, scores one
case per call exactly as the family's own evaluation CLI does, and writes a preview PNG whose
panels are the ones its report describes.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from evaluation.shard_context import context
from PIL import Image

from hounsfield.data.ct_phantoms import write_phantom_dataset
from hounsfield.data.volumes.prepare import load_manifest
from hounsfield.evaluation.families import (
    UnknownEvaluationKindError,
    case_identifier,
    evaluator_loader,
    parse_evaluation_spec,
    unique_identifiers,
)
from hounsfield.evaluation.reconstruction import evaluate_cases
from hounsfield.recipes.runner import run_recipe

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rgb(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_registry_knows_the_families_and_names_an_unknown_one() -> None:
    for kind in ("pcdiff", "vqgan3d", "topo_unet", "slice_interp"):
        assert callable(evaluator_loader(kind))
    known = "'pcdiff3d'.*known: pcdiff, slice_interp, topo_unet, vqgan3d"
    with pytest.raises(UnknownEvaluationKindError, match=known):
        evaluator_loader("pcdiff3d")
    assert parse_evaluation_spec({"checkpoints": {"diffusion": {"job": "a"}, "voxelization": {"job": "b"}},
                                  "dataset": {"root": "s"}}).kind == "pcdiff"  # fmt: skip


def test_case_ids_take_the_identifier_alphabet_and_refuse_collisions() -> None:
    assert case_identifier("P000/ct_0") == "P000_ct_0"
    with pytest.raises(ValueError, match="both map to case id 'a_b'"):
        unique_identifiers(["a/b", "a.b"])


@pytest.fixture(scope="module")
def vq_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("vq-family")
    write_phantom_dataset(base / "data", 4, shape=(24, 24, 28), seed=5)
    command = [
        sys.executable, "-m", "hounsfield.recipes.vqgan3d", "--preset", "cpu-tiny", "--data-root",
        str(base / "data"), "--steps", "2", "--output-dir", str(base / "run"),
        "--config", '{"validation": {"atEnd": false}}',
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace",
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return base / "run"


def test_vqgan3d_cases_score_like_the_reconstruction_cli(vq_run: Path, tmp_path: Path) -> None:
    [checkpoint] = sorted((vq_run / "checkpoints").glob("step-*"))
    spec = {
        "kind": "vqgan3d",
        "checkpoints": {"model": {"job": "train"}},
        "dataset": {"root": "dataset", "split": "train"},
        "device": "cpu",
        "stride": [8, 8, 8],
    }
    load = evaluator_loader("vqgan3d")
    prepared = vq_run / "dataset"  # the data root the worker resolved from dataset.root
    evaluator = load(context(spec, {"preset": "cpu-tiny"}), {"model": checkpoint}, prepared, tmp_path)
    manifest = load_manifest(prepared)
    train = sorted(manifest.split("train"), key=lambda c: case_identifier(c.case_id))
    planned = evaluator.cases()
    assert [c.case_id for c in planned] == [case_identifier(c.case_id) for c in train]
    assert {c.group for c in planned} == {"train"}
    options = evaluator.options()
    assert options["stride"] == [8, 8, 8] and options["dataRange"] == 1.0
    assert options["patch"] == [16, 16, 16] and options["blend"] == "gaussian"

    # The same numbers as the CLI's evaluate_cases with the same model and settings.
    from hounsfield.evaluation.families.vqgan3d import load_model, volumes_settings

    config, model = load_model({"preset": "cpu-tiny"}, checkpoint)
    volumes = volumes_settings(config, parse_evaluation_spec(spec))  # type: ignore[arg-type]
    cpu = torch.device("cpu")
    n_codes = config.model.n_codes
    expected = evaluate_cases(model, vq_run / "dataset", train[:1], volumes, n_codes, tmp_path / "cli", cpu)[
        0
    ]
    (tmp_path / "scratch").mkdir()
    score = evaluator.evaluate(planned[0].case_id, 0, tmp_path / "scratch")
    for name in ("psnr", "ssim", "perplexity", "codes_used"):
        assert score.metrics[name] == pytest.approx(getattr(expected, name), rel=1e-6)
    assert 0 < score.metrics["psnr"] < 80 and 0 < score.metrics["codes_used"] <= 1

    # Preview: input | reconstruction | |difference| of the mid axial slice, grey.
    [preview] = score.files
    assert preview.name == "preview.png"
    image = rgb(preview.read_bytes())
    x, y, z = train[0].shape
    assert image.shape == (y, 3 * x, 3)
    ref = np.load(vq_run / "dataset" / train[0].prepared)[:, :, z // 2]
    assert np.abs(image[:, :x, 0].astype(int) - np.round(np.clip(ref, 0, 1).T * 255)).max() <= 1
    cli = np.asarray(Image.open(tmp_path / "cli" / expected.preview))
    assert np.array_equal(image[..., 0], cli)


@pytest.fixture(scope="module")
def topo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("topo-family")
    code = run_recipe(
        __import__("hounsfield.recipes.topo_unet.recipe", fromlist=["RECIPE"]).RECIPE,
        ["--preset", "cpu-tiny", "--steps", "2", "--output-dir", str(out / "run")],
    )
    assert code == 0
    return out / "run"


def test_topo_unet_cases_score_like_the_evaluate_cli(topo_run: Path, tmp_path: Path) -> None:
    from hounsfield.recipes.topo_unet import evaluate
    from hounsfield.recipes.topo_unet.evaluate import BOTH, MISSED, PREDICTED_ONLY, UNLABELLED

    checkpoint = sorted((topo_run / "checkpoints").iterdir())[-1]
    spec = {"kind": "topo_unet", "checkpoints": {"model": {"job": "train"}}, "dataset": {"root": "phantoms"},
            "device": "cpu", "minComponentVoxels": 3}  # fmt: skip
    evaluator = evaluator_loader("topo_unet")(
        context(spec, {"preset": "cpu-tiny"}), {"model": checkpoint}, topo_run / "phantoms", tmp_path
    )
    planned = evaluator.cases()
    assert [c.case_id for c in planned] == ["phantom_0004", "phantom_0005"]  # cpu-tiny holds out 2 of 6
    assert evaluator.options()["minComponentVoxels"] == 3 and evaluator.options()["surfaceToleranceMm"] == 2.0

    report = evaluate.evaluate(checkpoint, topo_run / "phantoms", tmp_path / "cli", 2, (1.0, 1.0, 1.0),
                               torch.device("cpu"), {"min_component_voxels": 3})  # fmt: skip
    expected = report["cases"]
    assert isinstance(expected, dict)
    for case in planned:
        scratch = tmp_path / case.case_id
        scratch.mkdir()
        score = evaluator.evaluate(case.case_id, 0, scratch)
        assert score.metrics == pytest.approx(expected[case.case_id])
        image = rgb(score.files[0].read_bytes())
        cli = np.asarray(Image.open(tmp_path / "cli" / "previews" / f"{case.case_id}.png").convert("RGB"))
        assert np.array_equal(image, cli)
        # Colour appears only for errors: red false positives, blue missed surface (the rest is grey).
        pixels = image.reshape(-1, 3)
        coloured = {
            tuple(int(v) for v in c) for c in np.unique(pixels[pixels.min(1) != pixels.max(1)], axis=0)
        }
        assert coloured <= {PREDICTED_ONLY, MISSED}
        assert {BOTH, UNLABELLED} <= {tuple(int(v) for v in c) for c in np.unique(pixels, axis=0)}
