"""Legacy import on this GPU-less machine: a CUDA-tagged .pth and a Lightning .ckpt become checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from hounsfield.checkpoints.importer import import_to_directory
from hounsfield.checkpoints.layout import CheckpointFormatError
from hounsfield.sdk import Run

from .legacy_files import saved_as_if_on, trained_model, write_cuda_pth, write_lightning_ckpt

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason="skipped on GPU machines: the point is a machine without one"
)


class NotAllowListed:
    """An arbitrary class: unpickling it would run code a file chooses."""

    def __init__(self) -> None:
        self.value = 1


def _resume(path: Path) -> tuple[dict, object]:
    run = Run.from_env(output_dir=path.parent / "reader", handle_sigterm=False, environ={}, resume_from=path)
    loaded = run.load_checkpoint()
    assert loaded is not None
    return loaded.state, loaded.meta


def test_the_cuda_tag_is_real_a_plain_load_fails_like_on_a_machine_without_gpu_7(tmp_path: Path) -> None:
    source = tmp_path / "epoch12.pth"
    write_cuda_pth(source)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(source, weights_only=True)


def test_a_pth_saved_on_gpu_7_imports_onto_the_cpu(tmp_path: Path) -> None:
    source = tmp_path / "epoch12.pth"
    model, optimizer = write_cuda_pth(source)

    path = import_to_directory(source, tmp_path / "out")

    state, meta = _resume(path)
    assert meta.step == 3400 and meta.epoch == 12
    assert meta.source is not None and meta.source.kind == "pth" and meta.source.file == "epoch12.pth"
    assert meta.model_dump(mode="json")["source"]["devices"] == ["cuda:7"]
    assert all(t.device.type == "cpu" for t in state["model"].values())
    fresh, _ = trained_model()
    fresh.load_state_dict(state["model"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name
    resumed = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    resumed.load_state_dict(state["optimizer"])
    assert torch.equal(
        resumed.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"]
    )
    assert state["legacy"]["args"] == {"lr": 1e-3, "batch_size": 8}
    assert torch.equal(state["legacy"]["best_dice"], torch.tensor(0.87))


def test_a_lightning_ckpt_imports_with_its_step_epoch_optimizer_and_extras(tmp_path: Path) -> None:
    source = tmp_path / "last.ckpt"
    model, optimizer = write_lightning_ckpt(source)

    path = import_to_directory(source, tmp_path / "out")

    state, meta = _resume(path)
    assert (meta.step, meta.epoch, meta.source.kind) == (1250, 4, "lightning")
    assert sorted(state) == ["lightning", "lr_scheduler", "model", "optimizer"]
    # Lightning's keys name the LightningModule's attributes; they are kept as they are.
    expected = {f"model.{name}": tensor for name, tensor in model.state_dict().items()}
    assert sorted(state["model"]) == sorted(expected)
    for name, tensor in expected.items():
        assert torch.equal(state["model"][name], tensor)
    assert state["optimizer"]["param_groups"][0]["lr"] == optimizer.state_dict()["param_groups"][0]["lr"]
    assert state["lightning"]["hyper_parameters"] == {"lr": 1e-3, "channels": 4}
    assert state["lr_scheduler"] == {"last_epoch": 4, "_step_count": 5}


def test_a_bare_state_dict_takes_the_step_given(tmp_path: Path) -> None:
    source = tmp_path / "weights.pth"
    with saved_as_if_on("cuda:3"):
        torch.save(nn.Linear(3, 2).state_dict(), source)
    state, meta = _resume(import_to_directory(source, tmp_path / "out", step=500))
    assert meta.step == 500 and sorted(state) == ["model"] and sorted(state["model"]) == ["bias", "weight"]


def test_pickled_objects_are_refused_unless_trusted(tmp_path: Path) -> None:
    source = tmp_path / "unsafe.pth"
    torch.save({"model": nn.Linear(2, 2).state_dict(), "extra": NotAllowListed()}, source)
    with pytest.raises(CheckpointFormatError, match="--trust-pickled"):
        import_to_directory(source, tmp_path / "out")
    with pytest.raises(CheckpointFormatError, match="torch.load\\(weights_only=True\\) cannot read back"):
        # Trusted to load, the object still cannot go into a weights_only checkpoint: say so.
        import_to_directory(source, tmp_path / "out", trust_pickled=True)


def test_the_cli_imports_locally_and_prints_where(tmp_path: Path) -> None:
    source = tmp_path / "last.ckpt"
    write_lightning_ckpt(source)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hounsfield_client",  # the `hounsfield` command converts locally with this package
            "checkpoints",
            "import",
            str(source),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    path = Path(json.loads(done.stdout)["path"])
    assert path == tmp_path / "out" / "checkpoints" / "step-000001250"
    _, meta = _resume(path)
    assert meta.source is not None and meta.source.file == "last.ckpt"
