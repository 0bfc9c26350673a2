"""Run.save_checkpoint / Run.load_checkpoint as a trainer uses them: round trip, atomicity, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from harness.trainer_context import managed_environ
from torch import nn

from hounsfield.checkpoints.layout import CheckpointFormatError
from hounsfield.sdk import Run
from hounsfield.sdk.checkpoint import CheckpointError

RESOLVED = {
    "worldSize": 2,
    "globalBatch": 8,
    "perDeviceBatch": 4,
    "gradAccumSteps": 1,
    "referenceBatch": 8,
    "baseLr": 0.1,
    "lrScaling": "linear",
    "lr": 0.1,
}


def _trained() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).pow(2).mean().backward()
        optimizer.step()
    return model, optimizer


def _standalone(tmp_path: Path, **environ: str) -> Run:
    return Run.from_env(output_dir=tmp_path / "deep" / "out", handle_sigterm=False, environ=environ)


def test_round_trip_restores_every_state_key(tmp_path: Path) -> None:
    model, optimizer = _trained()
    run = _standalone(tmp_path)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "sampler": {"global_index": 96},
        "rng": {"torch": torch.get_rng_state()},
        "custom": {"best": torch.tensor(0.5), "names": ["a", "b"]},
    }
    path = run.save_checkpoint(state, 12, epoch=1.5, metrics={"loss": 0.25, "grad": float("nan")})

    assert path == run.output_dir / "checkpoints" / "step-000000012"
    assert sorted(p.name for p in path.iterdir()) == [
        "custom.pt",
        "meta.json",
        "model.safetensors",
        "optimizer.pt",
        "rng.pt",
        "sampler.pt",
    ]
    loaded = run.load_checkpoint()
    assert loaded is not None
    assert loaded.step == 12 and loaded.epoch == 1.5 and loaded.global_sample_index == 96
    assert loaded.meta.metrics == {"loss": 0.25, "grad": "NaN"}
    assert loaded.meta.worldSize == 1 and loaded.meta.jobId is None
    assert loaded.meta.stateFiles["model"] == "model.safetensors"
    assert loaded.meta.configHash is not None and len(loaded.meta.configHash) == 64

    fresh, fresh_optimizer = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), None
    fresh.load_state_dict(loaded.state["model"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    fresh_optimizer.load_state_dict(loaded.state["optimizer"])
    assert fresh_optimizer.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    assert torch.equal(loaded.state["rng"]["torch"], state["rng"]["torch"])
    assert loaded.state["custom"]["names"] == ["a", "b"]
    assert loaded.state["sampler"] == {"global_index": 96}


def test_meta_records_the_platform_job_and_the_resolved_batch(tmp_path: Path) -> None:
    model, _ = _trained()
    environ = managed_environ(
        tmp_path / "attempt", job_id="job-7", attempt=2, resolved=RESOLVED, config={"preset": "tiny"}
    )
    run = Run.from_env(handle_sigterm=False, environ=environ)
    path = run.save_checkpoint({"model": model.state_dict()}, 3)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format"] == "hounsfield.checkpoint" and meta["formatVersion"] == 1
    assert meta["jobId"] == "job-7" and meta["attempt"] == 2 and meta["step"] == 3
    assert meta["resolved"] == RESOLVED
    assert meta["torchVersion"] == torch.__version__


def test_ddp_and_compile_prefixes_are_dropped_and_tied_weights_survive(tmp_path: Path) -> None:
    shared = torch.randn(3, 3)
    run = _standalone(tmp_path)
    path = run.save_checkpoint(
        {
            "model": {
                "module.encoder.weight": shared,
                "module.decoder.weight": shared,
                "module.bias": shared[0],
            }
        },
        1,
    )
    loaded = run.load_checkpoint()
    assert loaded is not None and loaded.path == path
    assert sorted(loaded.state["model"]) == ["bias", "decoder.weight", "encoder.weight"]
    assert torch.equal(loaded.state["model"]["decoder.weight"], shared)
    assert torch.equal(loaded.state["model"]["bias"], shared[0])


def test_a_failed_save_leaves_no_directory_and_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    import numpy as np

    model, _ = _trained()
    run = _standalone(tmp_path)
    run.save_checkpoint({"model": model.state_dict()}, 5)
    with pytest.raises(CheckpointFormatError, match=r"state\['rng'\]\['numpy'\].*torch.from_numpy"):
        run.save_checkpoint({"model": model.state_dict(), "rng": {"numpy": np.zeros(3)}}, 6)
    entries = sorted(p.name for p in (run.output_dir / "checkpoints").iterdir())
    assert entries == ["step-000000005"]
    loaded = run.load_checkpoint()
    assert loaded is not None and loaded.step == 5


def test_saving_a_step_again_replaces_it_whole(tmp_path: Path) -> None:
    run = _standalone(tmp_path)
    run.save_checkpoint({"model": {"w": torch.zeros(2)}, "extra": {"x": 1}}, 4)
    run.save_checkpoint({"model": {"w": torch.ones(2)}}, 4)
    path = run.output_dir / "checkpoints" / "step-000000004"
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "model.safetensors"]
    assert [p.name for p in path.parent.iterdir()] == ["step-000000004"]
    loaded = run.load_checkpoint()
    assert loaded is not None and torch.equal(loaded.state["model"]["w"], torch.ones(2))


def test_nothing_to_resume_is_none_and_a_bad_resume_path_names_the_variable(tmp_path: Path) -> None:
    assert _standalone(tmp_path).load_checkpoint() is None
    run = Run.from_env(output_dir=tmp_path / "out", resume_from=tmp_path, handle_sigterm=False, environ={})
    with pytest.raises(CheckpointError, match="resume checkpoint .* no meta.json"):
        run.load_checkpoint()


def test_resume_from_names_a_directory_written_elsewhere(tmp_path: Path) -> None:
    writer = Run.from_env(output_dir=tmp_path / "a", handle_sigterm=False, environ={})
    path = writer.save_checkpoint({"model": {"w": torch.arange(3.0)}}, 9)
    reader = Run.from_env(output_dir=tmp_path / "b", handle_sigterm=False, environ={}, resume_from=path)
    loaded = reader.load_checkpoint()
    assert loaded is not None and loaded.step == 9


def test_bad_keys_and_steps_are_refused_with_the_fix(tmp_path: Path) -> None:
    run = _standalone(tmp_path)
    with pytest.raises(CheckpointFormatError, match="state key 'my/key'"):
        run.save_checkpoint({"model": {}, "my/key": 1}, 1)
    with pytest.raises(CheckpointFormatError, match="model.state_dict"):
        run.save_checkpoint({"model": nn.Linear(1, 1)}, 1)
    with pytest.raises(CheckpointError, match="step must be >= 0"):
        run.save_checkpoint({"model": {}}, -1)


def test_a_newer_format_version_is_refused_with_an_upgrade_hint(tmp_path: Path) -> None:
    run = _standalone(tmp_path)
    path = run.save_checkpoint({"model": {"w": torch.zeros(1)}}, 1)
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "formatVersion": 99}))
    with pytest.raises(CheckpointFormatError, match="format version 99.*upgrade"):
        run.load_checkpoint()


def test_under_the_agent_rank_0_announces_the_checkpoint_in_the_report_file(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    run = Run.from_env(
        handle_sigterm=False,
        environ=managed_environ(tmp_path, report_file=report, output_dir=tmp_path / "out"),
    )
    path = run.save_checkpoint({"model": {"w": torch.zeros(1)}}, 2)
    run.close()
    records = [json.loads(line) for line in report.read_text().splitlines()]
    announced = [r for r in records if r["kind"] == "checkpoint"]
    assert announced == [
        {"v": 1, "kind": "checkpoint", "at": announced[0]["at"], "step": 2, "path": str(path)}
    ]
