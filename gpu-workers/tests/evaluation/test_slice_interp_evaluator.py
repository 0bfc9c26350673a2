"""The evaluation shards' slice_interp case evaluator on a tiny trained checkpoint.

A cpu-tiny run (2 steps on phantoms, random VAE weights) gives a real checkpoint. The evaluator
loads it once, lists the cases of a split of the run's prepared dataset, makes each case's thick
input as training did, and scores the model (seeded DDIM) and the trilinear baseline on every
40-slice block; the numbers are recomputed here from the pieces, and the preview's panels are
checked against the volumes they show.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from evaluation.shard_context import context
from PIL import Image
from safetensors.torch import save_file

from hounsfield.data.volumes.prepare import load_manifest
from hounsfield.evaluation.families import case_identifier, evaluator_loader
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.recipes.slice_interp.inference import load_for_inference, trilinear_thin
from hounsfield.recipes.slice_interp.pairs import PAIR_PRESETS, make_pair, pair_starts
from hounsfield.recipes.slice_interp.vae import FrozenVAE


def spec_of(**extra: Any) -> dict[str, Any]:
    return {"kind": "slice_interp", "checkpoints": {"model": {"job": "train"}},
            "dataset": {"root": "dataset", "split": "train", "maxCases": 2}, "device": "cpu",
            "ddimSteps": 2, "seed": 7, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def si_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("si-family") / "run"
    command = [sys.executable, "-m", "hounsfield.recipes.slice_interp", "--preset", "cpu-tiny",
               "--steps", "2", "--output-dir", str(run),
               "--config", '{"validation": {"atEnd": false}}']  # fmt: skip
    done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace",
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return run


def test_slice_interp_cases_score_the_model_and_the_trilinear_baseline(si_run: Path, tmp_path: Path) -> None:
    [checkpoint] = sorted((si_run / "checkpoints").glob("step-*"))
    prepared = si_run / "dataset"  # the data root the worker resolved from dataset.root
    evaluator = evaluator_loader("slice_interp")(
        context(spec_of(), {"preset": "cpu-tiny"}), {"model": checkpoint}, prepared, tmp_path
    )
    train = sorted(load_manifest(prepared).split("train"), key=lambda c: case_identifier(c.case_id))[:2]
    planned = evaluator.cases()
    assert [c.case_id for c in planned] == [case_identifier(c.case_id) for c in train]
    options = evaluator.options()
    assert options["ddimSteps"] == 2 and options["thickSpacingMm"] == 5.0 and options["thinSlices"] == 40
    assert (
        options["thickMode"] == "average" and options["inPlane"] == [32, 32] and options["dataRange"] == 1.0
    )
    assert options["vaePretrained"] is False and len(str(options["vaeSha256"])) == 64

    (tmp_path / "a").mkdir()
    score = evaluator.evaluate(planned[1].case_id, 1, tmp_path / "a")

    # Recomputed from the pieces: every centred 40-slice block, thickened by slab average, DDIM
    # seeded by spec seed + plan index (so a case scores the same on whichever shard runs it), and
    # torch's trilinear resize for the baseline (the slab centres, f = 5 being odd).
    volume = np.load(prepared / train[1].prepared)
    geometry = PAIR_PRESETS["cpu-tiny"]
    model = load_for_inference(checkpoint, None, "cpu")
    starts = pair_starts(volume.shape[2], geometry)
    assert len(starts) == volume.shape[2] // 40 > 1
    thin, predicted, trilinear = [], [], []
    for start in starts:
        pair = make_pair(volume, train[1].spacing, geometry, z_start=start)
        thick = torch.from_numpy(pair.thick)
        predicted.append(model.interpolate_xyz(thick, steps=2, seed=7 + 1).numpy())
        trilinear.append(trilinear_thin(thick, 5).numpy())
        thin.append(pair.thin)
    ref, out, base = (np.concatenate(p, axis=2) for p in (thin, predicted, trilinear))
    assert score.metrics["psnr"] == pytest.approx(psnr(out, ref, 1.0), rel=1e-6)
    assert score.metrics["ssim"] == pytest.approx(ssim3d(out, ref, 1.0), rel=1e-6)
    assert score.metrics["psnr_trilinear"] == pytest.approx(psnr(base, ref, 1.0), rel=1e-5)
    assert score.metrics["ssim_trilinear"] == pytest.approx(ssim3d(base, ref, 1.0), rel=1e-5)
    assert score.metrics["psnr_trilinear"] > 20 and 0 < score.metrics["ssim_trilinear"] <= 1

    # Preview: the mid-y coronal plane of thick | trilinear | model | thin, superior up, each x voxel
    # (11.25 mm) 11 pixels wide as the 1 mm slices are 1 pixel high.
    [preview] = score.files
    image = np.asarray(Image.open(io.BytesIO(preview.read_bytes())).convert("RGB"))
    depth, width = ref.shape[2], 32 * 11
    assert train[1].spacing[0] == 11.25 and image.shape == (depth, 4 * width + 3 * 4, 3)
    for panel, volume_shown in enumerate((base, out, ref), start=1):
        shown = image[:, panel * (width + 4) : panel * (width + 4) + width : 11, 0]
        expected = np.round(np.clip(volume_shown[:, 16, ::-1].T, 0, 1) * 255)
        assert np.abs(shown.astype(int) - expected).max() <= 1


def test_the_vae_must_be_the_checkpoints_and_the_volumes_windowed_as_in_training(
    si_run: Path, tmp_path: Path
) -> None:
    [checkpoint] = sorted((si_run / "checkpoints").glob("step-*"))
    load = evaluator_loader("slice_interp")
    other = FrozenVAE("cpu-tiny", weights=None, device="cpu", seed=99)
    save_file(
        {k: v.contiguous() for k, v in other.module.state_dict().items()}, tmp_path / "other.safetensors"
    )
    with pytest.raises(
        ValueError, match=r"other.safetensors have hash [0-9a-f]{64}, but .* was trained with"
    ):
        load(context(spec_of(vaeWeights=str(tmp_path / "other.safetensors")), {"preset": "cpu-tiny"}),
             {"model": checkpoint}, si_run / "dataset", tmp_path)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="vaeWeights missing.safetensors: no file at"):
        load(context(spec_of(vaeWeights="missing.safetensors"), {"preset": "cpu-tiny"}),
             {"model": checkpoint}, si_run / "dataset", tmp_path)  # fmt: skip

    # A dataset prepared with another window is refused when the cases are listed, naming the fix.
    manifest = json.loads((si_run / "dataset" / "manifest.json").read_text(encoding="utf-8"))
    manifest["settings"]["window"] = "lung"
    relabelled = tmp_path / "relabelled"
    relabelled.mkdir()
    (relabelled / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    evaluator = load(context(spec_of(), {"preset": "cpu-tiny"}), {"model": checkpoint}, relabelled, tmp_path)
    with pytest.raises(ValueError, match="trained on level 0, width 2000 to .*--window=0,2000"):
        evaluator.cases()


def test_the_cli_writes_the_report_with_mean_std_and_a_preview_per_case(si_run: Path, tmp_path: Path) -> None:
    from hounsfield.evaluation.interpolation_report import main

    [checkpoint] = sorted((si_run / "checkpoints").glob("step-*"))
    out = tmp_path / "report"
    argv = [str(checkpoint), "--prepared", str(si_run / "dataset"), "--split", "train", "--max-cases", "2",
            "--ddim-steps", "1", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with (out / "cases.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    report = yaml.safe_load((out / "report.yaml").read_text(encoding="utf-8"))
    assert report["options"]["ddimSteps"] == 1 and report["split"] == "train"
    for metric in ("psnr", "ssim", "psnr_trilinear", "ssim_trilinear"):
        values = np.array([float(r[metric]) for r in rows])
        assert report["summary"][metric]["mean"] == pytest.approx(values.mean(), rel=1e-5)
        assert report["summary"][metric]["std"] == pytest.approx(values.std(), rel=1e-4, abs=1e-9)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for row in rows:
        assert f"![{row['case_id']}]({row['preview']})" in markdown
        assert (out / row["preview"]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in (out / "previews").iterdir()) == sorted(f"{r['case_id']}.png" for r in rows)
