"""Checkpoints, evaluations and code upload through the CLI: bytes over HTTP, verified."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
from fake_gateway import FakeGateway, job_record
from typer.testing import CliRunner

from hounsfield_client import cli
from hounsfield_client.code_upload import pack, project_files

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    return " ".join(ANSI.sub("", text).split())


def add_checkpoint(gateway: FakeGateway, files: dict[str, bytes]) -> None:
    gateway.jobs["job-1"] = job_record("job-1", "succeeded")
    gateway.checkpoints["ck-1"] = {
        "id": "ck-1",
        "jobId": "job-1",
        "attempt": 1,
        "step": 20,
        "committedAt": "2026-01-05T10:00:00.000Z",
        "totalSize": sum(len(b) for b in files.values()),
        "files": [
            {"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest(), "parts": [{"size": len(b)}]}
            for n, b in files.items()
        ],
        "meta": {"metrics": {"loss": 0.125}},
    }
    for name, data in files.items():
        gateway.files[("ck-1", name)] = data


def test_checkpoint_download_streams_and_verifies_every_file(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    files = {"model.safetensors": bytes(range(256)) * 4096, "meta.json": b'{"step": 20}'}
    add_checkpoint(gateway, files)
    listed = plain(runner.invoke(cli.app, ["checkpoints", "list", "job-1"]).output)
    assert "ck-1" in listed and "loss 0.125" in listed
    result = runner.invoke(
        cli.app, ["checkpoints", "download", "job-1:latest", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(tmp_path / "ck-1")
    for name, data in files.items():
        assert (tmp_path / "ck-1" / name).read_bytes() == data
    assert not list((tmp_path / "ck-1").glob("*.hf-part"))


def test_a_corrupted_download_keeps_nothing_and_says_so(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    add_checkpoint(gateway, {"model.safetensors": b"x" * 1000})
    gateway.files[("ck-1", "model.safetensors")] = b"y" * 1000
    result = runner.invoke(cli.app, ["checkpoints", "download", "ck-1", "--out", str(tmp_path)])
    assert result.exit_code == 4
    assert "its manifest says 1000 bytes" in plain(result.stderr)
    assert list((tmp_path / "ck-1").iterdir()) == []


def test_checkpoint_import_uploads_the_file_and_names_the_imported_checkpoint(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    add_checkpoint(gateway, {"model.safetensors": b"w"})
    legacy = tmp_path / "last.ckpt"
    legacy.write_bytes(b"legacy bytes" * 1000)
    result = runner.invoke(cli.app, ["checkpoints", "import", str(legacy), "--json"])
    assert result.exit_code == 0, result.output
    assert gateway.imports == [legacy.read_bytes()]
    assert json.loads(result.stdout)["checkpoint"]["id"] == "ck-import"


def test_evaluations_submit_show_and_report(gateway: FakeGateway, runner: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "eval.yaml"
    spec.write_text("checkpoints:\n  diffusion: {job: job-1, ref: latest}\n")
    submitted = runner.invoke(cli.app, ["evaluations", "submit", str(spec), "--json"])
    assert json.loads(submitted.stdout)["spec"]["checkpoints"]["diffusion"]["job"] == "job-1"
    gateway.evaluations["eval-1"] |= {
        "status": "succeeded",
        "progress": {"total": 4, "done": 4, "etaSeconds": 0},
        "summary": {
            "cases": 4,
            "fallbacks": 0,
            "byDefectClass": {},
            "overall": {
                "DSC": {"count": 4, "mean": 0.9, "std": 0.01, "median": 0.9, "min": 0.88, "max": 0.92}
            },
        },
    }
    shown = plain(runner.invoke(cli.app, ["evaluations", "show", "eval-1"]).output)
    assert "succeeded: 4/4 cases" in shown and "DSC" in shown and "0.92" in shown
    listed = plain(runner.invoke(cli.app, ["evaluations", "list"]).output)
    assert "eval-1" in listed and "succeeded" in listed and "4/4" in listed and "0.9" in listed
    gateway.reports[("eval-1", "csv")] = b"case,DSC\nA,0.9\n"
    assert (
        runner.invoke(cli.app, ["evaluations", "report", "eval-1", "--format", "csv"]).stdout
        == "case,DSC\nA,0.9\n"
    )
    gateway.reports[("eval-1", "A/preview.png")] = b"\x89PNG-bytes"
    shown_at = tmp_path / "a.png"
    assert (
        runner.invoke(cli.app, ["evaluations", "preview", "eval-1", "A", "--out", str(shown_at)]).exit_code
        == 0
    )
    assert shown_at.read_bytes() == b"\x89PNG-bytes"
    target = tmp_path / "r.csv"
    runner.invoke(cli.app, ["evaluations", "report", "eval-1", "--format", "csv", "--out", str(target)])
    assert target.read_bytes() == b"case,DSC\nA,0.9\n"


def make_project(root: Path) -> Path:
    (root / "my_lab").mkdir(parents=True)
    (root / "my_lab" / "__init__.py").write_text("")
    (root / "my_lab" / "train.py").write_text("print('training')\n")
    (root / "requirements.txt").write_text("tiny-fixture-package\n")
    (root / ".gitignore").write_text("outputs/\n*.log\n")
    (root / ".hounsfieldignore").write_text("data/\n")
    (root / "my_lab" / ".gitignore").write_text("scratch.py\n")
    for ignored in (
        "outputs/run1/model.pt",
        "data/volume.nrrd",
        "train.log",
        "my_lab/scratch.py",
        "my_lab/__pycache__/train.cpython-311.pyc",
    ):
        (root / ignored).parent.mkdir(parents=True, exist_ok=True)
        (root / ignored).write_text("left out")
    return root


def test_packing_honours_gitignore_and_hounsfieldignore(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    assert [p.as_posix() for p in project_files(root)] == [
        ".gitignore",
        ".hounsfieldignore",
        "my_lab/.gitignore",
        "my_lab/__init__.py",
        "my_lab/train.py",
        "requirements.txt",
    ]
    packed = pack(root)
    with tarfile.open(fileobj=io.BytesIO(packed.archive)) as archive:
        assert archive.extractfile("my_lab/train.py").read() == b"print('training')\n"  # type: ignore[union-attr]
    assert packed.digest == f"sha256:{hashlib.sha256(packed.archive).hexdigest()}"


def test_the_same_tree_packs_to_the_same_digest_wherever_it_lies(tmp_path: Path) -> None:
    first = pack(make_project(tmp_path / "a"))
    second = make_project(tmp_path / "b")
    (second / "my_lab" / "train.py").touch()  # a newer mtime changes nothing
    assert pack(second).digest == first.digest
    (second / "my_lab" / "train.py").write_text("print('changed')\n")
    assert pack(second).digest != first.digest


def test_too_big_a_tree_names_its_biggest_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path / "proj")
    (root / "weights.bin").write_bytes(b"\0" * 3 * 2**20)
    monkeypatch.setenv("HOUNSFIELD_CODE_MAX_MIB", "1")
    with pytest.raises(Exception, match=r"weights\.bin \(3\.0 MiB\).*\.hounsfieldignore"):
        pack(root)


def test_git_commit_and_dirty_tree_are_recorded(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    clean = pack(root)
    assert (clean.git_commit, clean.dirty) == (head, False)
    (root / "my_lab" / "train.py").write_text("print('edited')\n")
    assert pack(root).reference() == {"digest": pack(root).digest, "gitCommit": head, "dirty": True}


def test_submit_with_code_uploads_once_and_records_the_digest(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "proj")
    spec = tmp_path / "job.yaml"
    spec.write_text("name: mine\nkind: script\nscript: {module: my_lab.train}\n")
    first = runner.invoke(cli.app, ["submit", str(spec), "--code", str(root), "--detach"])
    assert first.exit_code == 0, first.output
    digest = gateway.submitted[0]["code"]["digest"]
    assert list(gateway.code) == [digest]
    second = runner.invoke(cli.app, ["submit", str(spec), "--code", str(root), "--detach"])
    assert "already stored" in plain(second.output) and "nothing uploaded" in plain(second.output)
    assert [r for r in gateway.requests if r[0] == "POST" and r[1].startswith("/v1/code/")] == [
        ("POST", f"/v1/code/{digest}")
    ]
    assert gateway.submitted[1]["code"]["digest"] == digest
