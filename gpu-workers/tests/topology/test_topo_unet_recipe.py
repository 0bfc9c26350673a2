"""topo_unet end to end on CPU: cpu-tiny trains a few steps reporting every loss.<term>, validates with
the topology metrics, checkpoints, and its checkpoint predicts masks with the input's geometry."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hounsfield.data.sheet_phantoms import sheet_phantom
from hounsfield.recipes.registry import load_recipe
from hounsfield.recipes.runner import run_recipe
from hounsfield.recipes.topo_unet import infer
from hounsfield.recipes.topo_unet.losses import TERMS
from hounsfield.recipes.topo_unet.recipe import RECIPE
from hounsfield.trainers.config_base import apply_overrides
from hounsfield.trainers.errors import TrainerError


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("topo")
    report = out / "report.jsonl"
    import os

    os.environ["HOUNSFIELD_REPORT_FILE"] = str(report)
    try:
        code = run_recipe(
            RECIPE,
            ["--preset", "cpu-tiny", "--steps", "4", "--log-every", "2", "--output-dir", str(out / "run")],
        )
    finally:
        del os.environ["HOUNSFIELD_REPORT_FILE"]
    assert code == 0
    return out


def _progress(out: Path) -> list[dict]:  # type: ignore[type-arg]
    records = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "progress"]


def test_every_loss_term_is_reported_and_adds_up(trained: Path) -> None:
    losses = [r["metrics"] for r in _progress(trained) if "loss" in r["metrics"]]
    assert len(losses) == 2
    weights = RECIPE.preset("cpu-tiny").loss.weights()
    for metrics in losses:
        assert {f"loss.{t}" for t in TERMS} <= set(metrics)
        combined = sum(weights[t] * metrics[f"loss.{t}"] for t in TERMS)
        assert metrics["loss"] == pytest.approx(combined, rel=1e-4)


def test_validation_reports_topology_metrics_into_the_checkpoint(trained: Path) -> None:
    final = sorted((trained / "run" / "checkpoints").iterdir())[-1]
    meta = json.loads((final / "meta.json").read_text())
    for name in ("dice", "cldice", "surface_dice", "voi", "b0_error", "b1_error", "b2_error", "score"):
        assert 0.0 <= meta["metrics"][f"val.{name}"] < float("inf"), name
    assert meta["recipe"]["kind"] == "topo_unet"


def test_label_maps_are_cached_once_per_case(trained: Path) -> None:
    cache = trained / "run" / "cache"
    tubes = sorted(cache.glob("*/skeleton_tube.npy"))
    assert len(tubes) == 6  # 4 training + 2 held-out phantoms, one folder each


def test_inference_writes_a_mask_with_the_input_geometry(trained: Path, tmp_path: Path) -> None:
    phantom = sheet_phantom(11, (24, 40, 40))
    affine = np.diag([0.5, 0.7, 0.9, 1.0])
    affine[:3, 3] = [10.0, -4.0, 2.5]
    source = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(phantom.image, affine), source)
    checkpoint = sorted((trained / "run" / "checkpoints").iterdir())[-1]
    code = infer.main(
        [
            "--checkpoint",
            str(checkpoint),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out"),
            "--min-component-voxels",
            "5",
        ]
    )
    assert code == 0
    written: nib.Nifti1Image = nib.load(tmp_path / "out" / "scan.nii.gz")  # type: ignore[assignment]
    np.testing.assert_allclose(written.affine, affine)
    mask = np.asarray(written.dataobj)
    assert mask.shape == phantom.image.shape and set(np.unique(mask)) <= {0, 1}


def test_inference_names_a_bad_checkpoint(tmp_path: Path) -> None:
    assert (
        infer.main(["--checkpoint", str(tmp_path), "--input", str(tmp_path), "--output", str(tmp_path)]) == 2
    )


def test_registered_and_configs_refuse_bad_patches() -> None:
    assert load_recipe("topo_unet") is RECIPE
    tiny = RECIPE.preset("cpu-tiny")
    with pytest.raises(TrainerError, match=r"data.patch .*multiples of \(4, 4, 4\)"):
        apply_overrides(tiny, {"data": {"patch": [18, 32, 32]}})
    vesuvius = RECIPE.preset("vesuvius")
    assert vesuvius.data.patch == (72, 136, 136) and vesuvius.model.deep_supervision_heads == 2


def test_evaluation_reports_per_case_metrics_aggregates_and_previews(trained: Path, tmp_path: Path) -> None:
    from PIL import Image

    from hounsfield.recipes.topo_unet import evaluate

    checkpoint = sorted((trained / "run" / "checkpoints").iterdir())[-1]
    out = tmp_path / "eval"
    code = evaluate.main(
        [
            "--checkpoint",
            str(checkpoint),
            "--data-root",
            str(trained / "run" / "phantoms"),
            "--output",
            str(out),
            "--held-out",
            "2",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["cases"]) == ["phantom_0004", "phantom_0005"]
    dice = [row["dice"] for row in report["cases"].values()]
    assert report["aggregate"]["dice"]["mean"] == pytest.approx(np.mean(dice))
    preview = Image.open(out / "previews" / "phantom_0004.png")
    assert preview.height >= 256 and preview.width > 3 * preview.height * 0.9  # three square-ish panels
    assert "previews/phantom_0005.png" in (out / "report.md").read_text()


def test_preview_colours_agreement() -> None:
    from hounsfield.recipes.topo_unet.evaluate import BOTH, MISSED, PREDICTED_ONLY, UNLABELLED, preview

    labels = np.zeros((1, 4, 4), np.uint8)
    labels[0, 0, :2] = 1
    labels[0, 3, 3] = 2
    mask = np.zeros_like(labels)
    mask[0, 0, 0] = mask[0, 1, 1] = 1
    image = np.asarray(preview(np.zeros((1, 4, 4), np.float32), mask, labels))
    scale = image.shape[0] // 4
    middle = image[::scale, (4 + 2) * scale : (8 + 2) * scale : scale]
    assert tuple(middle[0, 0]) == BOTH and tuple(middle[0, 1]) == MISSED
    assert tuple(middle[1, 1]) == PREDICTED_ONLY and tuple(middle[3, 3]) == UNLABELLED
