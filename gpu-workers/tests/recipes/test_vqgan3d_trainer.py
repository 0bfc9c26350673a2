"""vqgan3d as the worker runs it: trains on phantoms, checkpoints with val.* metrics and the data
manifest's hash, and resumes 1 -> 2 -> 1 processes (torchrun, gloo) keeping the global batch and
continuing the sample order."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness.trainer_context import managed_environ

from hounsfield.checkpoints.layout import step_dir_name
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.data.ct_phantoms import write_phantom_dataset
from hounsfield.data.volumes.prepare import manifest_hash

GLOBAL_BATCH = 4
LR = 2e-3


def _resolved(world: int) -> dict[str, Any]:
    return {
        "worldSize": world,
        "globalBatch": GLOBAL_BATCH,
        "perDeviceBatch": GLOBAL_BATCH // world,
        "gradAccumSteps": 1,
        "referenceBatch": GLOBAL_BATCH,
        "baseLr": LR,
        "lrScaling": "linear",
        "lr": LR,
    }


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantoms")
    write_phantom_dataset(root, 4, shape=(24, 24, 28), seed=5)
    return root


def _run(
    directory: Path, data: Path, steps: int, world: int = 1, resume: Path | None = None
) -> tuple[int, str]:
    env = {
        "OMP_NUM_THREADS": "1",
        **managed_environ(
            directory,
            inherit=True,
            job_id="job-vq",
            kind="vqgan3d",
            resolved=_resolved(world),
            config={"preset": "cpu-tiny", "logEvery": 1, "validation": {"everySteps": 2}},
            hyperparameters={"globalBatch": GLOBAL_BATCH, "baseLr": LR, "maxSteps": steps},
            checkpoint={"everySteps": 2},
            data_root=str(data),
            resume_from=None if resume is None else str(resume),
        ),
    }
    launcher = [sys.executable]
    if world > 1:
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={world}",
        ]
    done = subprocess.run(
        [*launcher, "-m", "hounsfield.recipes.vqgan3d"],
        env=env,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def _progress(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "report.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "progress"]


def test_trains_checkpoints_and_reports_validation_metrics(phantoms: Path, tmp_path: Path) -> None:
    code, log = _run(tmp_path, phantoms, steps=2)
    assert code == 0, log
    output = tmp_path / "output"
    state, meta = read_checkpoint(output / "checkpoints" / step_dir_name(2))
    assert meta.step == 2 and state["sampler"] == {"global_index": 2 * GLOBAL_BATCH}
    metrics = meta.metrics or {}
    for name in ("val.psnr", "val.ssim", "val.perplexity", "val.codes_used", "val.dead_codes"):
        assert name in metrics and math.isfinite(metrics[name]), (name, metrics)
    assert 0 < metrics["val.psnr"] < 60 and -1 <= metrics["val.ssim"] <= 1
    assert 1 <= metrics["val.perplexity"] <= 64 and 0 < metrics["val.codes_used"] <= 1
    assert meta.provenance == {"dataManifestSha256": manifest_hash(output / "dataset")}
    reported = set().union(*(p["metrics"] for p in _progress(tmp_path)))
    assert {"loss", "loss.l1", "loss.commitment", "val.psnr", "val.ssim"} <= reported


def test_resume_one_to_two_to_one_process_keeps_the_global_batch(phantoms: Path, tmp_path: Path) -> None:
    first, second, third = tmp_path / "one", tmp_path / "two", tmp_path / "back"
    code, log = _run(first, phantoms, steps=2)
    assert code == 0, log
    checkpoint = first / "output" / "checkpoints" / step_dir_name(2)
    code, log = _run(second, phantoms, steps=4, world=2, resume=checkpoint)
    assert code == 0, log
    assert f"resumed from {checkpoint}" in log
    assert sorted({p["step"] for p in _progress(second)}) == [3, 4]
    checkpoint = second / "output" / "checkpoints" / step_dir_name(4)
    state, meta = read_checkpoint(checkpoint)
    assert meta.worldSize == 2 and state["sampler"] == {"global_index": 4 * GLOBAL_BATCH}
    code, log = _run(third, phantoms, steps=6, resume=checkpoint)
    assert code == 0, log
    assert sorted({p["step"] for p in _progress(third)}) == [5, 6]
    state, meta = read_checkpoint(third / "output" / "checkpoints" / step_dir_name(6))
    assert meta.worldSize == 1 and state["sampler"] == {"global_index": 6 * GLOBAL_BATCH}
    # the same prepared data everywhere: the manifests of all three attempts hash alike
    hashes = {manifest_hash(d / "output" / "dataset") for d in (first, second, third)}
    assert len(hashes) == 1
