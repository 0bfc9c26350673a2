"""Warm starts and the public PCDiff checkpoint layout, with the pcdiff recipe run as the worker
runs it (a trainer context, a subprocess) on synthetic skulls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from checkpoints.legacy_files import saved_as_if_on
from harness.trainer_context import managed_environ

from hounsfield.checkpoints.importer import import_to_directory
from hounsfield.checkpoints.layout import committed_checkpoints
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.data.synthetic_skulls import generate_skullbreak
from hounsfield.models.pvcnn2 import PVCNN2
from hounsfield.recipes.base import BuildContext
from hounsfield.recipes.pcdiff.recipe import RECIPE as PCDIFF
from hounsfield.recipes.runner import assemble_config
from hounsfield.sdk import Run, resolve_hyperparameters
from hounsfield.trainers.ddp import DistributedContext
from hounsfield.trainers.loop import make_loader
from hounsfield.trainers.sampler import position_seed
from hounsfield.trainers.step import batch_to

CPU = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
RESOLVED = resolve_hyperparameters(global_batch=4, base_lr=1e-3, world_size=1)


@pytest.fixture(scope="module")
def skulls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("skulls")
    generate_skullbreak(root, 2, shape=(32, 32, 32), seed=4)
    return root


def _config(skulls: Path, **extra: Any) -> dict[str, Any]:
    # No dropout: the first loss is then a function of the weights and the batch alone.
    return {
        "preset": "cpu-tiny",
        "dataRoot": str(skulls),
        "model": {"dropout": 0.0, "head_dropout": 0.0},
        **extra,
    }


def _public_pcdiff_pth(path: Path, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """What the public PCDiff code saves on GPU 7: model_state, optimizer_state, epoch."""
    torch.manual_seed(123)
    model = PVCNN2(assemble_config(PCDIFF, config, {}, {}).model)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer.zero_grad()
    sum(p.sum() for p in model.parameters()).backward()  # type: ignore[union-attr]
    optimizer.step()
    with saved_as_if_on("cuda:7"):
        torch.save(
            {"model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(), "epoch": 7}, path
        )
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train(directory: Path, config: dict[str, Any], **context: Any) -> tuple[int, str, list[dict[str, Any]]]:
    env = {
        "OMP_NUM_THREADS": "1",
        **managed_environ(
            directory, inherit=True, kind="pcdiff", config=config, resolved=RESOLVED.model_dump(), **context
        ),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hounsfield.recipes.pcdiff"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = directory / "report.jsonl"
    records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return done.returncode, done.stdout + done.stderr, records


def test_a_public_pcdiff_checkpoint_warm_starts_a_job_with_the_same_first_loss(
    skulls: Path, tmp_path: Path
) -> None:
    config = _config(skulls, steps=1, logEvery=1)
    weights = _public_pcdiff_pth(tmp_path / "pcdiff_epoch_7.pth", config)
    imported = import_to_directory(tmp_path / "pcdiff_epoch_7.pth", tmp_path / "imported")
    state, meta = read_checkpoint(imported)
    assert meta.source is not None and [d.root for d in meta.source.devices] == ["cuda:7"] and meta.epoch == 7
    assert {"model", "optimizer"} <= set(state)

    spec = {"initFrom": {"ref": "imp-job:latest"}}
    code, log, records = _train(tmp_path / "attempt", config, checkpoint=spec, init_from=str(imported))
    assert code == 0, log
    [notice] = [r for r in records if r["kind"] == "notice"]
    assert (
        notice["notice"] == "warm_start"
        and notice["details"]["missing"] == []
        and notice["details"]["loaded"] == len(weights)
    )
    first_loss = next(r for r in records if r["kind"] == "progress")["metrics"]["loss"]

    # The same weights loaded by hand, the first global batch computed the way the loop computes it.
    run = Run.from_env(output_dir=tmp_path / "attempt" / "output", environ={}, handle_sigterm=False)
    parts = PCDIFF.build(
        assemble_config(PCDIFF, config, {}, {}), BuildContext(run=run, dist=CPU, resolved=RESOLVED)
    )
    parts.model.load_state_dict(weights)
    parts.model.train()
    torch.manual_seed(position_seed(0, 0, stream=100))
    batch = batch_to(
        next(iter(make_loader(parts.dataset, RESOLVED, CPU, seed=0, start_index=0, workers=0))), CPU.device
    )
    with torch.no_grad():
        by_hand = float(parts.loss_fn(parts.model, batch, 0))
    assert first_loss == pytest.approx(by_hand, rel=1e-5)
    saved, saved_meta = read_checkpoint(
        committed_checkpoints(tmp_path / "attempt" / "output" / "checkpoints")[-1]
    )
    assert saved_meta.provenance == {"initFrom": "imp-job:latest"}
    assert saved_meta.recipe is not None and saved_meta.recipe.kind == "pcdiff"
    assert int(saved["optimizer"]["state"][0]["step"]) == 1  # weights only: a fresh optimiser


def test_a_strict_warm_start_names_the_keys_that_do_not_fit_and_a_partial_one_reports_them(
    skulls: Path, tmp_path: Path
) -> None:
    config = _config(skulls, steps=1, logEvery=1)
    weights = _public_pcdiff_pth(tmp_path / "a.pth", config)
    dropped = sorted(weights)[0]
    changed = {("renamed." + k if k == dropped else k): v for k, v in weights.items()}
    torch.save({"model_state": changed}, tmp_path / "b.pth")
    imported = import_to_directory(tmp_path / "b.pth", tmp_path / "imported")

    code, log, _ = _train(
        tmp_path / "strict", config, checkpoint={"initFrom": {"ref": "x:latest"}}, init_from=str(imported)
    )
    assert code == 2
    assert f"missing 1: {dropped}" in log and f"unexpected 1: renamed.{dropped}" in log

    partial = {"initFrom": {"ref": "x:latest", "strict": False}}
    code, log, records = _train(tmp_path / "partial", config, checkpoint=partial, init_from=str(imported))
    assert code == 0, log
    [notice] = [r for r in records if r["kind"] == "notice"]
    assert notice["level"] == "warning" and notice["details"]["missing"] == [dropped]
    assert notice["details"]["unexpected"] == [f"renamed.{dropped}"]


def test_training_continues_from_a_public_pcdiff_checkpoint(skulls: Path, tmp_path: Path) -> None:
    config = _config(skulls, steps=2, logEvery=1)
    _public_pcdiff_pth(tmp_path / "p.pth", config)
    imported = import_to_directory(tmp_path / "p.pth", tmp_path / "imported")
    code, log, records = _train(tmp_path / "attempt", config, resume_from=str(imported))
    assert code == 0, log
    # Epoch 7 of the training cases, on a global-batch boundary; the optimiser continues (its step count).
    cases = int(re.search(r"(\d+) training cases", log).group(1))  # type: ignore[union-attr]
    start = 7 * cases // 4 * 4
    assert f"continuing at global sample {start}" in log
    assert [r["step"] for r in records if r["kind"] == "progress"] == [1, 2]
    saved, _ = read_checkpoint(committed_checkpoints(tmp_path / "attempt" / "output" / "checkpoints")[-1])
    assert int(saved["optimizer"]["state"][0]["step"]) == 3
    assert saved["sampler"]["global_index"] == start + 2 * 4
