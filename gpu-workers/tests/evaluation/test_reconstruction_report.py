"""A vqgan3d checkpoint evaluated on a prepared split: per-case scores, summary, report files, previews."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from hounsfield.data.ct_phantoms import write_phantom_dataset
from hounsfield.evaluation.reconstruction import evaluate_checkpoint, preview_image


def test_preview_is_input_reconstruction_difference() -> None:
    ref = np.zeros((4, 3, 5))
    recon = np.full((4, 3, 5), 0.5)
    image = preview_image(ref, recon, 0.0, 1.0)
    assert image.shape == (3, 12)  # rows = y, three x-wide panels
    assert (image[:, :4] == 0).all() and (image[:, 4:8] == 128).all() and (image[:, 8:] == 128).all()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("vq-eval")
    write_phantom_dataset(base / "data", 4, shape=(24, 24, 28), seed=2)
    output = base / "run"
    command = [
        sys.executable, "-m", "hounsfield.recipes.vqgan3d", "--preset", "cpu-tiny", "--data-root",
        str(base / "data"), "--steps", "2", "--output-dir", str(output),
        "--config", '{"validation": {"atEnd": false}}',
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return output


def test_report_with_previews(trained: Path, tmp_path: Path) -> None:
    [checkpoint] = sorted((trained / "checkpoints").glob("step-*"))
    report = evaluate_checkpoint(checkpoint, trained / "dataset", tmp_path, split="val")
    assert len(report.cases) >= 1 and report.data_range == 1.0
    for case in report.cases:
        assert 0 < case.psnr < 60 and -1 <= case.ssim <= 1 and 0 < case.codes_used <= 1
        png = Image.open(tmp_path / case.preview)
        assert png.size == (3 * 24, 24)
    rows = list(csv.DictReader((tmp_path / "cases.csv").open(encoding="utf-8")))
    assert [r["case_id"] for r in rows] == [c.case_id for c in report.cases]
    stored = yaml.safe_load((tmp_path / "report.yaml").read_text(encoding="utf-8"))
    mean_psnr = np.mean([c.psnr for c in report.cases])
    assert stored["summary"]["psnr"]["mean"] == pytest.approx(mean_psnr)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "mean ± std" in markdown and f"]({report.cases[0].preview})" in markdown
